"""impl ``triton``: hand-written LSTM and GRU scans with each step's pointwise work in one
Triton kernel, on CUDA.

Each step is the recurrent matmul (cuBLAS, ``addmm``) plus **one** Triton kernel that reads the
step's gate pre-activations and state once, and writes the activations, the new state and
(backward) the gate gradients once, as haste's kernels do. The weight gradients come out of
one large matmul over all steps. :mod:`.derived` builds the same structure for every cell from
its step (Inductor's Triton kernels on CUDA); this hand-written pair stays until a GPU
measurement shows whether it is worth its code.

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

from rnnbench.model.errors import ImplUnavailable


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _states(gi: Tensor, hidden: int, reverse: bool, *initial: Tensor) -> list[Tensor]:
    """One ``(T+1, B, H)`` buffer per state with its initial value in place (first, or last
    when reversed): step ``t`` reads index ``t+1-off`` and writes ``t+off``."""
    steps, batch = gi.shape[:2]
    buffers = []
    for value in initial:
        buffers.append(gi.new_empty(steps + 1, batch, hidden))
        buffers[-1][steps if reverse else 0] = value
    return buffers


def _gru_gates(gi: Tensor, b_hn: Tensor | None, hidden: int) -> Tensor:
    """``(T, B, 3H)``: ``gi``'s r and z blocks, and ``b_hn`` where each step adds ``W_hn h``."""
    x = torch.empty_like(gi, memory_format=torch.contiguous_format)
    x[:, :, : 2 * hidden] = gi[:, :, : 2 * hidden]
    x[:, :, 2 * hidden :] = 0 if b_hn is None else b_hn
    return x


def _before(states: Tensor, reverse: bool) -> Tensor:
    """``(T, B, H)``, in time order, the state each step starts from, out of the ``(T+1, B,
    H)`` buffer the forward writes (the initial state first, or last when reversed)."""
    return states[:-1] if not reverse else states[1:]


def _finish(ctx: Any, saved: tuple[Tensor, ...], reverse: bool, mask: Tensor | None,
            *states: Tensor) -> tuple[Tensor, ...]:
    """Keeps what the backward needs; returns the outputs (``h``, zero at padded steps) and
    each state's final value. ``states`` are ``(T+1, B, H)`` with the initial state in them."""
    ctx.save_for_backward(*saved)
    ctx.reverse, ctx.mask = reverse, mask
    ctx.set_materialize_grads(False)
    steps, off = states[0].shape[0] - 1, 0 if reverse else 1
    hs, last = states[0][off : off + steps], 0 if reverse else steps
    return (hs if mask is None else hs * mask, *(s[last].clone() for s in states))


def _first_dh(dy: Tensor | None, dh_n: Tensor | None, first: int,
              like: Tensor) -> tuple[Tensor, Tensor]:
    """The gradient reaching the last state of the scan, and a spare buffer of its shape."""
    dh = like.new_zeros(like.shape[1:])
    if dy is not None:
        dh.add_(dy[first])
    if dh_n is not None:
        dh.add_(dh_n)
    return dh, torch.empty_like(dh)


def _unavailable(why: str) -> RuntimeError:
    return ImplUnavailable(f"impl='triton' is not available: {why}; use impl='derived' or 'eager'")


@functools.cache
def _kernels() -> ModuleType:
    """:mod:`rnnbench.model.triton_steps`, imported on first use (it needs Triton)."""
    try:
        return importlib.import_module("rnnbench.model.triton_steps")
    except ImportError as error:
        raise _unavailable(f"Triton is not installed ({error})") from error


BLOCK = 256


def _step(name: str, like: Tensor, hidden: int, **constants: bool) -> Any:
    """The step kernel ``name`` bound once per scan to its grid over the ``B*H`` elements of a
    step and its constants (half precision computes in f32), so the loop only passes tensors."""
    total = like.shape[-2] * hidden
    kernel = getattr(_kernels(), name)[(-(-total // BLOCK),)]
    return functools.partial(kernel, hidden=hidden, total=total, BLOCK=BLOCK,
                             UPCAST=like.dtype in (torch.float16, torch.bfloat16), **constants)


def _check(gi: Tensor) -> None:
    if gi.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise _unavailable("Triton kernels run on CUDA tensors (on the CPU only under "
                           "TRITON_INTERPRET=1, for tests)")
    _kernels()


def _keep(mask: Tensor | None, like: Tensor) -> tuple[tuple[Tensor, ...], bool]:
    """Per step, the ``(B,)`` int8 mask of real steps (a placeholder when unmasked)."""
    if mask is None:
        return like.unbind(0), False
    return mask.reshape(mask.shape[0], -1).to(torch.int8).unbind(0), True


def _masked(dy: Tensor | None, mask: Tensor | None) -> Tensor | None:
    """``dy``, contiguous and zero at padded steps (whose outputs are zero)."""
    if dy is None:
        return None
    return (dy if mask is None else dy * mask).contiguous()


def _backward_steps(ctx: Any, name: str, dy: Tensor | None, like: Tensor,
                    hidden: int) -> tuple[list[tuple[int, Tensor | None]], Any, Any]:
    """The forward's steps backwards, each with the ``dy`` of the step before it (if any),
    and the step kernel with and without that ``dy``."""
    keep, masked = ctx.keep
    order = list(_order(like.shape[0], not ctx.reverse))
    before = [*order[1:], None]
    steps = [(t, dy[b] if dy is not None and b is not None else None)
             for t, b in zip(order, before, strict=True)]
    kernel = {flag: _step(name, like, hidden, MASKED=masked, HAS_DY=flag) for flag in (False, True)}
    return steps, keep, kernel


class LSTMScan(torch.autograd.Function):
    """One LSTM layer and direction. ``gi (T, B, 4H)`` holds ``W_ih x_t + b_ih + b_hh``.

    Saved: the gate activations ``(T, B, 4H)``, the hidden and cell states (each ``(T+1, B,
    H)`` with the initial state in it) and ``tanh(c)``; the backward's equations are in
    :mod:`.triton_steps`."""

    @staticmethod
    def forward(ctx: Any, gi: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, reverse: bool,
                mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        gates = torch.empty_like(gi, memory_format=torch.contiguous_format)
        hs, cs = _states(gi, hidden, reverse, h0, c0)
        tanh_c = gi.new_empty(steps, batch, hidden)
        off = 0 if reverse else 1
        ctx.keep = keep, masked = _keep(mask, gi)
        kernel = _step("lstm_forward", gi, hidden, MASKED=masked)
        # Views prepared in one call each: per-step indexing would cost CPU time per launch.
        gi_t, gate_t, tc_t = gi.unbind(0), gates.unbind(0), tanh_c.unbind(0)
        h_t, c_t, w_t = hs.unbind(0), cs.unbind(0), w_hh.t()
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            torch.addmm(gi_t[t], h_t[before], w_t, out=gate_t[t])
            kernel(gate_t[t], c_t[before], c_t[now], tc_t[t], h_t[before], h_t[now], keep[t])
        return _finish(ctx, (gates, hs, cs, tanh_c, w_hh), reverse, mask, hs, cs)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None, dh_n: Tensor | None,
                 dc_n: Tensor | None) -> tuple[Tensor | None, ...]:
        gates, hs, cs, tanh_c, w_hh = ctx.saved_tensors
        steps, batch, _ = gates.shape
        hidden = w_hh.shape[1]
        h_prev, c_prev = _before(hs, ctx.reverse), _before(cs, ctx.reverse)
        dy = _masked(dy, ctx.mask)
        d_gates = torch.empty_like(gates)
        order, keep, kernel = _backward_steps(ctx, "lstm_backward", dy, gates, hidden)
        dh, spare = _first_dh(dy, dh_n, order[0][0], hs)
        dc, _ = _first_dh(None, dc_n, 0, cs)
        gate_t, c_prev_t, tc_t = gates.unbind(0), c_prev.unbind(0), tanh_c.unbind(0)
        d_gate_t = d_gates.unbind(0)
        for t, dy_before in order:
            kernel[dy_before is not None](gate_t[t], c_prev_t[t], tc_t[t], d_gate_t[t], dh, dc,
                                          spare, dh if dy_before is None else dy_before, keep[t])
            spare.addmm_(d_gate_t[t], w_hh)
            dh, spare = spare, dh
        flat = d_gates.view(steps * batch, -1)
        d_w_hh = torch.mm(flat.t(), h_prev.reshape(steps * batch, hidden))
        return d_gates, dh, dc, d_w_hh, None, None


class GRUScan(torch.autograd.Function):
    """One GRU layer and direction. ``gi (T, B, 3H)`` holds ``W_ih x_t + b_ih + [b_hr, b_hz,
    0]``. Saved: ``r, z`` after the sigmoid and ``gh_n = W_hn h + b_hn`` ``(T, B, 3H)``, ``n``
    after the tanh and the hidden states; the backward writes ``[dgh_n, dG_r, dG_z, dG_n]``
    side by side, so that ``W_hh``'s rows are taken in the order ``n, r, z``."""

    @staticmethod
    def forward(ctx: Any, gi: Tensor, h0: Tensor, w_hh: Tensor, b_hn: Tensor | None,
                reverse: bool, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        gi = gi.contiguous()
        x = _gru_gates(gi, b_hn, hidden)  # (T, B, 3H)
        n = gi.new_empty(steps, batch, hidden)
        (hs,) = _states(gi, hidden, reverse, h0)
        off = 0 if reverse else 1
        ctx.keep = keep, masked = _keep(mask, gi)
        kernel = _step("gru_forward", gi, hidden, MASKED=masked)
        x_t, gi_t, n_t, h_t, w_t = x.unbind(0), gi.unbind(0), n.unbind(0), hs.unbind(0), w_hh.t()
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            x_t[t].addmm_(h_t[before], w_t)
            kernel(x_t[t], gi_t[t], n_t[t], h_t[before], h_t[now], keep[t])
        ctx.has_bias = b_hn is not None
        return _finish(ctx, (x, n, hs, w_hh), reverse, mask, hs)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None,
                 dh_n: Tensor | None) -> tuple[Tensor | None, ...]:
        x, n, hs, w_hh = ctx.saved_tensors
        steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        h_prev = _before(hs, ctx.reverse)
        dy = _masked(dy, ctx.mask)
        d = x.new_empty(steps, batch, 4 * hidden)  # [dgh_n, dG_r, dG_z, dG_n]
        w_nrz = w_hh.roll(hidden, 0)  # rows n, r, z
        order, keep, kernel = _backward_steps(ctx, "gru_backward", dy, x, hidden)
        dh, spare = _first_dh(dy, dh_n, order[0][0], hs)
        x_t, n_t, h_prev_t, d_t = x.unbind(0), n.unbind(0), h_prev.unbind(0), d.unbind(0)
        d_gh_t = d[:, :, : 3 * hidden].unbind(0)
        for t, dy_before in order:
            kernel[dy_before is not None](x_t[t], n_t[t], h_prev_t[t], d_t[t], dh, spare,
                                          dh if dy_before is None else dy_before, keep[t])
            spare.addmm_(d_gh_t[t], w_nrz)
            dh, spare = spare, dh
        d_gh = d[:, :, : 3 * hidden].reshape(steps * batch, 3 * hidden)
        d_w = torch.mm(d_gh.t(), h_prev.reshape(steps * batch, hidden))
        d_b_hn = d[:, :, :hidden].sum((0, 1)) if ctx.has_bias else None
        return d[:, :, hidden:], dh, d_w.roll(-hidden, 0), d_b_hn, None, None


#: Where the scans run (see ``Cell.impls_on``); the CPU interpreter is for tests only.
DEVICES = ("cuda",)


def lstm_scan(gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
              mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
    """The LSTM's ``triton`` scan (registered in :data:`rnnbench.model.cells.CELLS`)."""
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
