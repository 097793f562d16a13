"""What one timed call of a benchmark case does, built once per case.

The model comes from :func:`rnnbench.build`; inputs are random (seeded), never zeros, and drawn
from a generator of their own: how many random numbers a builder draws (its implementation, a
refactoring) never changes a case's inputs, its packed lengths, or so its ATen op count. A
``fwdbwd`` call resets the gradients (``set_to_none``), runs the forward pass and back-
propagates a fixed random gradient of the output into every parameter and the input, as a
layer inside a larger model does. A ``fwd`` call is inference: autograd is off. On CUDA the
call ends with a synchronisation, so the time of queued kernels is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnbench.bench import slowdown
from rnnbench.bench.grid import DTYPES, Case
from rnnbench.model.build import build


@dataclass
class Workload:
    """A model, its inputs and the gradient to push back: call it to run one pass."""

    case: Case
    model: nn.Module
    inputs: Tensor | PackedSequence
    grad_output: Tensor
    tokens: int  # real (unpadded) time steps over the batch: T*B, or the sum of lengths

    def __call__(self) -> None:
        if self.case.pass_ == "fwd":
            with torch.no_grad():
                self.model(self.inputs)
        else:
            self.reset()
            output, _ = self.model(self.inputs)
            data = output.data if isinstance(output, PackedSequence) else output
            data.backward(self.grad_output)
        if self.case.device == "cuda":
            torch.cuda.synchronize()

    def reset(self) -> None:
        """Drops the gradients of the last call (the gate's A/B worker calls it too, in every
        rnnbench tree, so it stays)."""
        self.model.zero_grad(set_to_none=True)
        leaf = self.inputs.data if isinstance(self.inputs, PackedSequence) else self.inputs
        leaf.grad = None


def make_workload(case: Case, seed: int = 0) -> Workload:
    """The model and random inputs of ``case`` on its device and dtype.

    Raises :class:`rnnbench.ImplUnavailable` when the implementation cannot run here.
    """
    torch.manual_seed(seed)  # the weights
    draw = torch.Generator().manual_seed(seed)  # the inputs: drawn on the CPU, then moved
    device, dtype = torch.device(case.device), getattr(torch, DTYPES[case.dtype])
    model = build(case.base_cell, case.impl, case.input_size, case.hidden_size,
                  num_layers=case.num_layers, bidirectional=case.bidirectional)
    model = slowdown.apply(model, case.cell, case.impl).to(device=device, dtype=dtype).train()
    grad = case.pass_ == "fwdbwd"
    x = torch.randn(case.T, case.B, case.input_size, generator=draw).to(device, dtype)  # (T, B, I)
    features = (2 if case.bidirectional else 1) * case.hidden_size
    inputs: Tensor | PackedSequence
    if case.layout == "packed":
        lengths = torch.randint(1, case.T + 1, (case.B,), generator=draw)
        lengths[0] = case.T  # the longest sequence spans the whole T
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        # A leaf of its own, so that every call back-propagates into it, not into the packing.
        inputs = packed._replace(data=packed.data.detach().requires_grad_(grad))
        tokens = int(lengths.sum())
        grad_output = torch.randn(tokens, features, generator=draw).to(device, dtype)  # (N, D*H)
    else:
        inputs = x.requires_grad_(grad)
        tokens = case.T * case.B
        grad_output = torch.randn(case.T, case.B, features, generator=draw).to(device, dtype)
    return Workload(case, model, inputs, grad_output, tokens)
