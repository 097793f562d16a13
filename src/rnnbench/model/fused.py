"""impl ``fused``: each scan is one ``torch.autograd.Function`` with a hand-written backward.

As cuDNN and haste do it, the forward runs the recurrence once and saves only what the
backward needs: the gate activations ``(T, B, G*H)`` and the states. The backward runs the
reverse recurrence step by step, producing the pre-activation gate gradients ``dG (T, B, G*H)``,
and then computes the recurrent weight gradient as **one** large matmul over all steps::

    dW_hh = dG_flat^T @ h_prev_flat        # (G*H, T*B) @ (T*B, H)

``dG`` is also the gradient of the input projection ``gi``, so ``dW_ih``, ``d(b_ih)`` and
``dx`` come out of the projection's own autograd as single large matmuls too.

Per step, the forward writes into preallocated buffers (no ``cat``/``stack``): one ``addmm``
into the gate buffer, in-place activations of contiguous gate blocks, ``out=`` products. The
backward moves everything that does not depend on the incoming gradient (products of the
saved activations and their derivatives) out of the loop into whole-sequence tensor ops, so
that each backward step is a handful of ops (LSTM 5, GRU 3).

The maths is the one of :mod:`.cells` (LSTM gates ``i, f, g, o``; GRU gates ``r, z, n``
with ``b_hn`` inside the reset product), derived by hand below; ``tests/test_fused.py``
checks it with ``torch.autograd.gradcheck`` and against ``nn.LSTM`` / ``nn.GRU`` in float64.

Tried and not kept, as they measured no faster here (AMD EPYC, AVX2, 1 thread):
MKL's packed GEMM (``torch.ops.mkl._mkl_linear``) and oneDNN's ``_linear_pointwise`` for the
recurrent matmul (slower than ``addmm`` at B=8 and B=64); for the LSTM, one copy of ``gi`` to
add each step's matmul to in place (a large copy costs more than ``addmm``'s small one per
step, which stays in cache; the GRU copies ``gi`` once, as it replaces ``gi_n`` by ``b_hn``);
letting the scan write into ``gi`` itself (no gain measured, and it would bend the scan
contract); ``torch._higher_order_ops.scan`` under ``torch.compile`` (1.24x native for LSTM at
B=64, 4.1x at B=8).

**Variable-length input** (``mask (T, B, 1)``, from a ``PackedSequence``): padded steps
keep the old state (one ``where`` per state per step) and output zeros; in the backward they
pass the state gradients on unchanged to the step before (a few more ops per step, on the
masked path only). The code is device-agnostic (nothing assumes CPU), but it has not yet run
on a GPU: its CUDA test skips without one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


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


def _masked(dy: Tensor | None, mask: Tensor | None,
            like: Tensor) -> tuple[Tensor | None, list[Tensor] | None, list[Tensor] | None]:
    """``dy`` zero at padded steps, and per step the float masks of real and padded steps."""
    if mask is None:
        return dy, None, None
    on = mask.to(like.dtype)  # (T, B, 1)
    return (None if dy is None else dy * on), on.unbind(0), (1 - on).unbind(0)


def _first_dh(dy: Tensor | None, dh_n: Tensor | None, first: int,
              like: Tensor) -> tuple[Tensor, Tensor]:
    """The gradient reaching the last state of the scan, and a spare buffer of its shape."""
    dh = like.new_zeros(like.shape[1:])
    if dy is not None:
        dh.add_(dy[first])
    if dh_n is not None:
        dh.add_(dh_n)
    return dh, torch.empty_like(dh)


class LSTMScan(torch.autograd.Function):
    """One LSTM layer and direction. ``gi (T, B, 4H)`` holds ``W_ih x_t + b_ih + b_hh``.

    Saved for the backward: the gate activations ``(T, B, 4H)``, the hidden and cell states
    (each ``(T+1, B, H)`` with the initial state in it) and ``tanh(c)``. Backward, with ``dh``
    the gradient reaching ``h_t``::

        dc       = dc_{t+1} * f_{t+1}  +  dh * o (1 - tanh(c)^2)
        dG_o     = dh * tanh(c) o (1 - o)
        dG_i     = dc * g i (1 - i)      dG_f = dc * c_{t-1} f (1 - f)
        dG_g     = dc * i (1 - g^2)
        dh_{t-1} = dy_{t-1} + dG @ W_hh
    """

    @staticmethod
    def forward(ctx: Any, gi: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, reverse: bool,
                mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        gates = torch.empty_like(gi, memory_format=torch.contiguous_format)  # (T, B, 4H)
        w_t = w_hh.t()
        hs, cs = _states(gi, hidden, reverse, h0, c0)
        tanh_c = gi.new_empty(steps, batch, hidden)
        off = 0 if reverse else 1
        # Views prepared in one call each: per-step Python indexing costs more than the ops.
        gi_t, gate_t = gi.unbind(0), gates.unbind(0)
        h_t, c_t, tc_t = hs.unbind(0), cs.unbind(0), tanh_c.unbind(0)
        i_, f_, g_, o_ = (x.unbind(0) for x in gates.chunk(4, 2))
        if_ = gates[:, :, : 2 * hidden].unbind(0)
        keep = mask.unbind(0) if mask is not None else None  # (B, 1) each
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            # Into the gate buffer: cheaper than copying gi once (the step's copy stays in cache).
            torch.addmm(gi_t[t], h_t[before], w_t, out=gate_t[t])  # (B, 4H)
            if_[t].sigmoid_()
            g_[t].tanh_()
            o_[t].sigmoid_()
            torch.mul(f_[t], c_t[before], out=c_t[now])
            c_t[now].addcmul_(i_[t], g_[t])
            torch.tanh(c_t[now], out=tc_t[t])
            torch.mul(o_[t], tc_t[t], out=h_t[now])
            if keep is not None:  # padded steps keep the old state
                torch.where(keep[t], c_t[now], c_t[before], out=c_t[now])
                torch.where(keep[t], h_t[now], h_t[before], out=h_t[now])
        return _finish(ctx, (gates, hs, cs, tanh_c, w_hh), reverse, mask, hs, cs)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None, dh_n: Tensor | None,
                 dc_n: Tensor | None) -> tuple[Tensor | None, ...]:
        gates, hs, cs, tanh_c, w_hh = ctx.saved_tensors
        reverse = ctx.reverse
        steps, batch, _ = gates.shape
        hidden = w_hh.shape[1]
        h_prev, c_prev = _before(hs, reverse), _before(cs, reverse)
        i, f, g, o = gates.chunk(4, 2)
        one = gates.new_ones(())

        # The factors that do not depend on the incoming gradient, for all steps at once and
        # straight into the gradient buffer, which each step then scales in place: few large
        # temporaries, as writing fresh memory costs more here than the arithmetic.
        d_gates = torch.empty_like(gates)  # (T, B, 4H): the factors, then d(gi)
        a_i, a_f, a_g, a_o = d_gates.chunk(4, 2)
        torch.addcmul(i, i, i, value=-1, out=a_i).mul_(g)  # dG_i = dc * i (1 - i) g
        torch.addcmul(f, f, f, value=-1, out=a_f).mul_(c_prev)
        torch.addcmul(one, g, g, value=-1, out=a_g).mul_(i)
        torch.addcmul(o, o, o, value=-1, out=a_o).mul_(tanh_c)  # dG_o = dh * o (1 - o) tanh(c)
        a_c = torch.addcmul(one, tanh_c, tanh_c, value=-1).mul_(o)  # dc += dh * a_c

        dg_t, a_c_t, f_t = d_gates.unbind(0), a_c.unbind(0), f.unbind(0)
        dg_ifg = d_gates[:, :, : 3 * hidden].unflatten(2, (3, hidden)).unbind(0)  # (B, 3, H)
        dg_o = a_o.unbind(0)
        dy, on, off_ = _masked(dy, ctx.mask, gates)
        dy_t = dy.unbind(0) if dy is not None else None
        order = list(_order(steps, not reverse))  # the forward's steps, backwards
        dh, spare = _first_dh(dy, dh_n, order[0], hs)
        dc = dc_n.clone() if dc_n is not None else hs.new_zeros(batch, hidden)
        for k, t in enumerate(order):
            if on is not None:  # a padded step passes the gradients on to the state before
                dh_past, dc_past = dh * off_[t], dc * off_[t]
                dh.mul_(on[t])
                dc.mul_(on[t])
            dg_o[t].mul_(dh)
            dc.addcmul_(dh, a_c_t[t])
            dg_ifg[t].mul_(dc.unsqueeze(1))
            dc.mul_(f_t[t])
            if k + 1 < steps and dy_t is not None:
                torch.addmm(dy_t[order[k + 1]], dg_t[t], w_hh, out=spare)
            else:
                torch.mm(dg_t[t], w_hh, out=spare)
            if on is not None:
                spare.add_(dh_past)
                dc.add_(dc_past)
            dh, spare = spare, dh  # dh now reaches the step before: in the end, h_0
        flat = d_gates.view(steps * batch, -1)
        d_w_hh = torch.mm(flat.t(), h_prev.reshape(steps * batch, hidden))  # one large matmul
        return d_gates, dh, dc, d_w_hh, None, None


class GRUScan(torch.autograd.Function):
    """One GRU layer and direction. ``gi (T, B, 3H)`` holds ``W_ih x_t + b_ih + [b_hr, b_hz, 0]``.

    Saved: ``x (T, B, 3H)``: ``r, z`` after the sigmoid and ``gh_n = W_hn h_{t-1} + b_hn``;
    ``n (T, B, H)`` after the tanh; the hidden states. With ``h_t = n + z (h_{t-1} - n)`` and
    ``dh`` the gradient reaching ``h_t``::

        dG_n  = dh * (1 - z) (1 - n^2)              (pre-activation of n; d(gi_n) = dG_n)
        dG_z  = dh * (h_{t-1} - n) z (1 - z)
        dG_r  = dG_n * gh_n r (1 - r)
        dgh_n = dG_n * r                             (also d b_hn)
        dh_{t-1} = dy_{t-1} + dh * z + [dG_r, dG_z, dgh_n] @ W_hh

    The backward writes ``[dgh_n, dG_r, dG_z, dG_n]`` side by side, so that one broadcast
    product per step makes them all, ``[..., :3H]`` is the recurrent gradient (with ``W_hh``'s
    rows taken in the order ``n, r, z``) and ``[..., H:]`` is ``d(gi)``.
    """

    @staticmethod
    def forward(ctx: Any, gi: Tensor, h0: Tensor, w_hh: Tensor, b_hn: Tensor | None,
                reverse: bool, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        x = _gru_gates(gi, b_hn, hidden)  # (T, B, 3H)
        n = gi.new_empty(steps, batch, hidden)
        (hs,) = _states(gi, hidden, reverse, h0)
        off = 0 if reverse else 1
        w_t = w_hh.t()
        x_t, h_t, n_t = x.unbind(0), hs.unbind(0), n.unbind(0)
        rz = x[:, :, : 2 * hidden].unbind(0)
        r_, z_, gh_n = (v.unbind(0) for v in x.chunk(3, 2))
        keep = mask.unbind(0) if mask is not None else None
        gi_n = gi[:, :, 2 * hidden :].unbind(0)
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            x_t[t].addmm_(h_t[before], w_t)  # (B, 3H)
            rz[t].sigmoid_()
            torch.addcmul(gi_n[t], r_[t], gh_n[t], out=n_t[t]).tanh_()
            torch.lerp(n_t[t], h_t[before], z_[t], out=h_t[now])  # n + z (h - n)
            if keep is not None:
                torch.where(keep[t], h_t[now], h_t[before], out=h_t[now])
        ctx.has_bias = b_hn is not None
        return _finish(ctx, (x, n, hs, w_hh), reverse, mask, hs)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None,
                 dh_n: Tensor | None) -> tuple[Tensor | None, ...]:
        x, n, hs, w_hh = ctx.saved_tensors
        reverse = ctx.reverse
        steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        h_prev = _before(hs, reverse)
        r, z, gh_n = x.chunk(3, 2)
        one = x.new_ones(())

        # As in the LSTM: the factors first, in the buffer that each step scales in place.
        d = x.new_empty(steps, batch, 4 * hidden)  # [dgh_n, dG_r, dG_z, dG_n] = dh * factors
        a_hn, a_r, a_z, a_n = d.chunk(4, 2)
        torch.addcmul(one, n, n, value=-1, out=a_n)
        a_n.addcmul_(a_n, z, value=-1)  # (1 - n^2) (1 - z)
        torch.mul(gh_n, a_n, out=a_r).mul_(r)
        a_r.addcmul_(a_r, r, value=-1)  # gh_n a_n r (1 - r)
        torch.sub(h_prev, n, out=a_z).mul_(z)
        a_z.addcmul_(a_z, z, value=-1)  # (h_{t-1} - n) z (1 - z)
        torch.mul(a_n, r, out=a_hn)

        w_nrz = w_hh.roll(hidden, 0)  # rows n, r, z
        d_t, z_t = d.unflatten(2, (4, hidden)).unbind(0), z.unbind(0)
        d_gh = d[:, :, : 3 * hidden]
        d_gh_t = d_gh.unbind(0)
        dy, on, off_ = _masked(dy, ctx.mask, x)
        dy_t = dy.unbind(0) if dy is not None else None
        order = list(_order(steps, not reverse))
        dh, spare = _first_dh(dy, dh_n, order[0], hs)
        for k, t in enumerate(order):
            if on is not None:
                dh_past = dh * off_[t]
                dh.mul_(on[t])
            d_t[t].mul_(dh.unsqueeze(1))  # (B, 4, H)
            if k + 1 < steps and dy_t is not None:
                torch.addcmul(dy_t[order[k + 1]], dh, z_t[t], out=spare)
            else:
                torch.mul(dh, z_t[t], out=spare)
            if on is not None:
                spare.add_(dh_past)
            spare.addmm_(d_gh_t[t], w_nrz)
            dh, spare = spare, dh
        flat = d_gh.reshape(steps * batch, 3 * hidden)
        d_w = torch.mm(flat.t(), h_prev.reshape(steps * batch, hidden))  # one large matmul
        d_w_hh = d_w.roll(-hidden, 0)  # back to rows r, z, n
        d_b_hn = d[:, :, :hidden].sum((0, 1)) if ctx.has_bias else None
        return d[:, :, hidden:], dh, d_w_hh, d_b_hn, None, None


def lstm_scan(gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
              mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
    """The LSTM's ``fused`` scan (registered in :data:`rnnbench.model.cells.CELLS`)."""
    out, h, c = LSTMScan.apply(gi, state[0], state[1], weights[0], reverse, mask)
    return out, [h, c]


def gru_scan(gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
             mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
    """The GRU's ``fused`` scan; ``weights`` are ``[W_hh]`` or ``[W_hh, b_hn]``."""
    b_hn = weights[1] if len(weights) > 1 else None
    out, h = GRUScan.apply(gi, state[0], weights[0], b_hn, reverse, mask)
    return out, [h]
