"""impl ``triton``: the ``fused`` scans with each step's pointwise work in one Triton kernel.

On a GPU the ``fused`` loop is launch-bound: every step of the LSTM forward dispatches eight
pointwise kernels after its matmul, and each backward step five more. Here each step is the
recurrent matmul (cuBLAS, ``addmm``) plus **one** Triton kernel that reads the step's gate
pre-activations and state once, and writes the activations, the new state and (backward) the
gate gradients once, as haste's kernels do. The backward computes everything from the saved
activations inside its kernel, so it needs no precomputed factors; the weight gradients come
out of one large matmul over all steps, as in :mod:`rnnbench.fused`, whose equations these are.

It runs where Triton runs: CUDA tensors, or CPU tensors under ``TRITON_INTERPRET=1`` (how the
tests check it, in float64, against ``nn.LSTM`` / ``nn.GRU``). Elsewhere it raises
:class:`rnnbench.ImplUnavailable`. The kernels are defined on first use, because Triton reads
``TRITON_INTERPRET`` when a kernel is defined.
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnbench.fused import _finish, _order


def _unavailable(why: str) -> RuntimeError:
    from rnnbench.impls import ImplUnavailable  # impls imports the registry, which imports us

    return ImplUnavailable(f"impl='triton' is not available: {why}; use impl='fused' or 'eager'")


@functools.cache
def _kernels() -> ModuleType:
    """:mod:`rnnbench.triton_steps`, imported on first use (it needs Triton)."""
    try:
        return importlib.import_module("rnnbench.triton_steps")
    except ImportError as error:
        raise _unavailable(f"Triton is not installed ({error})") from error


BLOCK = 256


def _launch(kernel: str, total: int, *args: Tensor | int, **constants: bool) -> None:
    """One step's kernel over its ``total = B*H`` elements; half precision computes in f32."""
    k = _kernels()
    upcast = args[0].dtype in (torch.float16, torch.bfloat16)
    getattr(k, kernel)[(-(-total // BLOCK),)](*args, total, UPCAST=upcast, BLOCK=BLOCK,
                                                **constants)


def _check(gi: Tensor) -> None:
    if gi.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise _unavailable("Triton kernels run on CUDA tensors (on the CPU only under "
                           "TRITON_INTERPRET=1, for tests)")
    _kernels()


def _keep(mask: Tensor | None, like: Tensor) -> tuple[list[Tensor], bool]:
    """Per step, the ``(B,)`` int8 mask of real steps (a placeholder when unmasked)."""
    if mask is None:
        return [like] * like.shape[0], False
    return list(mask.reshape(mask.shape[0], -1).to(torch.int8).unbind(0)), True


class LSTMScan(torch.autograd.Function):
    """One LSTM layer and direction; the contract and saved tensors of ``fused.LSTMScan``."""

    @staticmethod
    def forward(ctx: Any, gi: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, reverse: bool,
                mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        gates = torch.empty_like(gi, memory_format=torch.contiguous_format)
        hs, cs = gi.new_empty(steps + 1, batch, hidden), gi.new_empty(steps + 1, batch, hidden)
        tanh_c = gi.new_empty(steps, batch, hidden)
        off = 0 if reverse else 1
        hs[steps if reverse else 0] = h0
        cs[steps if reverse else 0] = c0
        w_t, keep, masked = w_hh.t(), *_keep(mask, gi)
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            torch.addmm(gi[t], hs[before], w_t, out=gates[t])
            _launch("lstm_forward", batch * hidden, gates[t], cs[before], cs[now], tanh_c[t],
                    hs[before], hs[now], keep[t], hidden, MASKED=masked)
        return _finish(ctx, (gates, hs, cs, tanh_c, w_hh), reverse, mask, hs, cs)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None, dh_n: Tensor | None,
                 dc_n: Tensor | None) -> tuple[Tensor | None, ...]:
        gates, hs, cs, tanh_c, w_hh = ctx.saved_tensors
        steps, batch, _ = gates.shape
        hidden = w_hh.shape[1]
        off = 0 if ctx.reverse else 1
        h_prev, c_prev = hs[1 - off : 1 - off + steps], cs[1 - off : 1 - off + steps]
        dy = _masked(dy, ctx.mask)
        d_gates = torch.empty_like(gates)
        keep, masked = _keep(ctx.mask, gates)
        order = list(_order(steps, not ctx.reverse))
        dh, dc = _start(dy, dh_n, order[0], hs), _start(None, dc_n, 0, hs)
        spare = torch.empty_like(dh)
        for k, t in enumerate(order):
            before = order[k + 1] if k + 1 < steps else None
            has_dy = dy is not None and before is not None
            _launch("lstm_backward", batch * hidden, gates[t], c_prev[t], tanh_c[t], d_gates[t],
                    dh, dc, spare, dy[before] if has_dy else dh, keep[t], hidden,
                    MASKED=masked, HAS_DY=has_dy)
            spare.addmm_(d_gates[t], w_hh)
            dh, spare = spare, dh
        flat = d_gates.view(steps * batch, -1)
        d_w_hh = torch.mm(flat.t(), h_prev.reshape(steps * batch, hidden))
        return d_gates, dh, dc, d_w_hh, None, None


class GRUScan(torch.autograd.Function):
    """One GRU layer and direction; the contract and saved tensors of ``fused.GRUScan``."""

    @staticmethod
    def forward(ctx: Any, gi: Tensor, h0: Tensor, w_hh: Tensor, b_hn: Tensor | None,
                reverse: bool, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        gi = gi.contiguous()
        x = torch.empty_like(gi)  # (T, B, 3H)
        x[:, :, : 2 * hidden] = gi[:, :, : 2 * hidden]
        x[:, :, 2 * hidden :] = 0 if b_hn is None else b_hn
        n = gi.new_empty(steps, batch, hidden)
        hs = gi.new_empty(steps + 1, batch, hidden)
        off = 0 if reverse else 1
        hs[steps if reverse else 0] = h0
        w_t, keep, masked = w_hh.t(), *_keep(mask, gi)
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            x[t].addmm_(hs[before], w_t)
            _launch("gru_forward", batch * hidden, x[t], gi[t], n[t], hs[before], hs[now],
                    keep[t], hidden, MASKED=masked)
        ctx.has_bias = b_hn is not None
        return _finish(ctx, (x, n, hs, w_hh), reverse, mask, hs)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None,
                 dh_n: Tensor | None) -> tuple[Tensor | None, ...]:
        x, n, hs, w_hh = ctx.saved_tensors
        steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        off = 0 if ctx.reverse else 1
        h_prev = hs[1 - off : 1 - off + steps]
        dy = _masked(dy, ctx.mask)
        d = x.new_empty(steps, batch, 4 * hidden)  # [dgh_n, dG_r, dG_z, dG_n]
        w_nrz = torch.cat([w_hh[2 * hidden :], w_hh[: 2 * hidden]])  # rows n, r, z
        keep, masked = _keep(ctx.mask, x)
        order = list(_order(steps, not ctx.reverse))
        dh = _start(dy, dh_n, order[0], hs)
        spare = torch.empty_like(dh)
        for k, t in enumerate(order):
            before = order[k + 1] if k + 1 < steps else None
            has_dy = dy is not None and before is not None
            _launch("gru_backward", batch * hidden, x[t], n[t], h_prev[t], d[t], dh, spare,
                    dy[before] if has_dy else dh, keep[t], hidden, MASKED=masked, HAS_DY=has_dy)
            spare.addmm_(d[t, :, : 3 * hidden], w_nrz)
            dh, spare = spare, dh
        d_gh = d[:, :, : 3 * hidden].reshape(steps * batch, 3 * hidden)
        d_w = torch.mm(d_gh.t(), h_prev.reshape(steps * batch, hidden))
        d_w_hh = torch.cat([d_w[hidden:], d_w[:hidden]])  # back to rows r, z, n
        d_b_hn = d[:, :, :hidden].sum((0, 1)) if ctx.has_bias else None
        return d[:, :, hidden:], dh, d_w_hh, d_b_hn, None, None


def _masked(dy: Tensor | None, mask: Tensor | None) -> Tensor | None:
    """``dy``, contiguous and zero at padded steps (whose outputs are zero)."""
    if dy is None:
        return None
    return (dy if mask is None else dy * mask).contiguous()


def _start(dy: Tensor | None, grad: Tensor | None, first: int, like: Tensor) -> Tensor:
    """A fresh, contiguous state gradient: ``grad`` (or zeros) plus ``dy[first]``."""
    out = like.new_zeros(like.shape[1:]) if grad is None else grad.contiguous().clone()
    return out.add_(dy[first]) if dy is not None else out


#: Where the scans run (see ``Cell.impls_on``); the CPU interpreter is for tests only.
DEVICES = ("cuda",)


def lstm_scan(gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
              mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
    """The LSTM's ``triton`` scan (registered in :data:`rnnbench.cells.CELLS`)."""
    _check(gi)
    out, h, c = LSTMScan.apply(gi.contiguous(), state[0].contiguous(), state[1].contiguous(),
                               weights[0], reverse, mask)
    return out, [h, c]


def gru_scan(gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
             mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
    """The GRU's ``triton`` scan; ``weights`` are ``[W_hh]`` or ``[W_hh, b_hn]``."""
    _check(gi)
    b_hn = weights[1] if len(weights) > 1 else None
    out, h = GRUScan.apply(gi, state[0].contiguous(), weights[0], b_hn, reverse, mask)
    return out, [h]


lstm_scan.devices = gru_scan.devices = DEVICES  # type: ignore[attr-defined]
