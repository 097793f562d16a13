"""What a benchmark records besides time: FLOPs, ATen op count, peak memory, throughput.

- **FLOPs** are analytic (:func:`matmul_flops`), counted per real token, so every
  implementation of a shape is credited with the same useful work and FLOP/s compare
  directly. ``tests/test_bench_measure.py`` checks the formula against
  ``torch.utils.flop_counter`` on the eager implementation, which runs every matmul through
  ATen (the native CPU kernel ``mkldnn_rnn_layer`` and cuDNN are invisible to it).
- **ATen ops** and **peak memory** come from one extra, untimed call under PyTorch's
  profiler (:func:`profile_call`). The op count is every ``aten::`` call the profiler records
  (nested ones included): deterministic and independent of the machine's speed, and it works
  for ``torch.compile``-d code, unlike a ``TorchDispatchMode``, which ``torch.compile``
  refuses. CPU peak memory is the running sum of the allocator's allocation and free events
  that the profiler records (``profile_memory=True``); CUDA peak memory is
  ``torch.cuda.max_memory_allocated`` after a reset. Both are bytes above what was allocated
  when the call began, i.e. what the pass itself needs beyond parameters and inputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.autograd.profiler as profiler

from rnnbench.bench.grid import Case
from rnnbench.model import cells

#: The profiler logs two lines a call (``USDT: ... profiler_start``) that drown the suite's and
#: the gate's output; 6 is above Kineto's highest level. Read when the first profiler starts;
#: a level the user set is kept.
os.environ.setdefault("KINETO_LOG_LEVEL", "6")

#: ``matmul_flops`` counts ``fwdbwd`` as this multiple of ``fwd``.
BACKWARD_FACTOR = {"fwd": 1, "fwdbwd": 3}


def matmul_flops(case: Case, tokens: int) -> int:
    """Matrix-multiply FLOPs of one pass over ``tokens`` real time steps.

    A token of layer ``l`` and one direction multiplies every weight *matrix* of the cell
    once (:meth:`rnnbench.model.cells.Cell.shapes`: for the gated cells the input projection
    ``W_ih (G*H, I_l)``, with ``I_0 = I`` and ``I_l = D*H`` above, and the recurrent ``W_hh
    (G*H, H)``), at ``2*rows*columns`` FLOPs each (one multiply and one add per weight,
    ``torch.utils.flop_counter``'s convention)::

        fwd = tokens * sum over layers and directions of 2 * (weight-matrix entries)

    which is ``2*G*H*(I_l + H)`` for a gated cell. The backward pass multiplies each weight
    twice more (gradient of the input and of the weight), so ``fwdbwd = 3 * fwd``. Element-wise
    gate arithmetic (``O(G*H)`` per token) is left out, as FLOP counters do.
    """
    cell, hidden = cells.get(case.base_cell), case.hidden_size
    directions = 2 if case.bidirectional else 1
    per_token = 0
    for layer in range(case.num_layers):
        layer_input = case.input_size if layer == 0 else directions * hidden
        shapes = cell.shapes(layer_input, hidden, True).values()
        per_token += directions * 2 * sum(rows * columns for rows, columns in
                                          (s for s in shapes if len(s) == 2))
    return BACKWARD_FACTOR[case.pass_] * per_token * tokens


@dataclass(frozen=True)
class CallProfile:
    """Counts from one profiled call."""

    aten_ops: int
    peak_memory_bytes: int
    peak_memory_source: str


def profile_call(call: Callable[[], None], device: str) -> CallProfile:
    """Runs ``call`` once under the profiler and reports its ATen ops and peak memory."""
    cuda = device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
    with profiler.profile(profile_memory=not cuda) as prof:
        call()
    events = list(prof.kineto_results.events())
    aten_ops = sum(event.name().startswith("aten::") for event in events)
    if cuda:
        peak = torch.cuda.max_memory_allocated() - start
        return CallProfile(aten_ops, peak, "torch.cuda.max_memory_allocated")
    changes = sorted(
        (event.start_ns(), event.nbytes()) for event in events
        if event.name() == "[memory]" and event.device_type() == torch.autograd.DeviceType.CPU
    )
    peak = live = 0
    for _, change in changes:  # + allocation, - free, in time order
        live += change
        peak = max(peak, live)
    return CallProfile(aten_ops, peak, "profiler allocation events (CPU allocator)")


def throughput(tokens: int, flops: int, seconds: float) -> dict[str, float]:
    """Tokens and FLOPs per second of a pass that took ``seconds``."""
    return {"tokens_per_s": tokens / seconds, "flops_per_s": flops / seconds}
