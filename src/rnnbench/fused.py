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

The maths is the one of :mod:`rnnbench.cells` (LSTM gates ``i, f, g, o``; GRU gates ``r, z, n``
with ``b_hn`` inside the reset product), derived by hand below; ``tests/test_fused.py``
checks it with ``torch.autograd.gradcheck`` and against ``nn.LSTM`` / ``nn.GRU`` in float64.

**Variable-length input** (a ``mask``, from a ``PackedSequence``) falls back to the eager
:class:`rnnbench.impls.Scan` with the same cell: padded steps must keep the old state, which
would add a blend per step and a split of the gradient in the backward; packed cases of
``fused`` therefore measure the eager loop. The code is device-agnostic (nothing assumes CPU),
but it has been timed on CPU only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _accumulator(dy: Tensor | None, zeros: Tensor) -> Tensor:
    """A contiguous copy of ``dy`` (or zeros) that the backward loop adds ``dh`` to in place."""
    return zeros if dy is None else dy.clone(memory_format=torch.contiguous_format)


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
    def forward(ctx: Any, gi: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor,
                reverse: bool) -> tuple[Tensor, Tensor, Tensor]:
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        gates = torch.empty_like(gi, memory_format=torch.contiguous_format)  # (T, B, 4H)
        w_t = w_hh.t()
        hs = gi.new_empty(steps + 1, batch, hidden)  # h_t at t+off, h_{t-1} at t+1-off
        cs = gi.new_empty(steps + 1, batch, hidden)
        tanh_c = gi.new_empty(steps, batch, hidden)
        off = 0 if reverse else 1
        hs[steps if reverse else 0] = h0
        cs[steps if reverse else 0] = c0
        # Views prepared in one call each: per-step Python indexing costs more than the ops.
        gi_t, gate_t = gi.unbind(0), gates.unbind(0)
        h_t, c_t, tc_t = hs.unbind(0), cs.unbind(0), tanh_c.unbind(0)
        i_, f_, g_, o_ = (x.unbind(0) for x in gates.chunk(4, 2))
        if_ = gates[:, :, : 2 * hidden].unbind(0)
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
        ctx.save_for_backward(gates, hs, cs, tanh_c, w_hh)
        ctx.reverse = reverse
        ctx.set_materialize_grads(False)
        last = 0 if reverse else steps
        return hs[off : off + steps], hs[last].clone(), cs[last].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None, dh_n: Tensor | None,
                 dc_n: Tensor | None) -> tuple[Tensor | None, ...]:
        gates, hs, cs, tanh_c, w_hh = ctx.saved_tensors
        reverse = ctx.reverse
        steps, batch, _ = gates.shape
        hidden = w_hh.shape[1]
        off = 0 if reverse else 1
        h_prev = hs[1 - off : 1 - off + steps]  # (T, B, H), h_{t-1} in time order
        c_prev = cs[1 - off : 1 - off + steps]
        i, f, g, o = gates.chunk(4, 2)
        one = gates.new_ones(())

        # Everything that does not depend on the incoming gradient, for all steps at once.
        d_sig = torch.addcmul(gates, gates, gates, value=-1)  # s (1 - s); g's block unused
        a_ifg = gates.new_empty(steps, batch, 3, hidden)  # dG_{i,f,g} = dc * a_ifg
        torch.mul(d_sig[:, :, :hidden], g, out=a_ifg[:, :, 0])
        torch.mul(d_sig[:, :, hidden : 2 * hidden], c_prev, out=a_ifg[:, :, 1])
        torch.addcmul(one, g, g, value=-1, out=a_ifg[:, :, 2]).mul_(i)
        a_o = d_sig[:, :, 3 * hidden :].mul_(tanh_c)  # dG_o = dh * a_o
        a_c = torch.addcmul(one, tanh_c, tanh_c, value=-1).mul_(o)  # dc += dh * a_c

        d_gates = torch.empty_like(gates)  # (T, B, 4H), also d(gi)
        dg_ifg = d_gates[:, :, : 3 * hidden].unflatten(2, (3, hidden)).unbind(0)  # (B, 3, H)
        dg_o = d_gates[:, :, 3 * hidden :].unbind(0)
        dg_t, a_o_t, a_c_t, a_ifg_t, f_t = (x.unbind(0) for x in (d_gates, a_o, a_c, a_ifg, f))
        # dh reaching each h_t: dy plus, added in place step by step, the recurrent part.
        dh_all = _accumulator(dy, hs.new_zeros(steps, batch, hidden))
        dh_t = dh_all.unbind(0)
        order = list(_order(steps, not reverse))  # the forward's steps, backwards
        if dh_n is not None:
            dh_t[order[0]].add_(dh_n)
        dc = dc_n.clone() if dc_n is not None else hs.new_zeros(batch, hidden)
        dh0 = hs.new_zeros(batch, hidden)
        for k, t in enumerate(order):
            dh = dh_t[t]
            torch.mul(dh, a_o_t[t], out=dg_o[t])
            dc.addcmul_(dh, a_c_t[t])
            torch.mul(dc.unsqueeze(1), a_ifg_t[t], out=dg_ifg[t])
            dc.mul_(f_t[t])
            (dh_t[order[k + 1]] if k + 1 < steps else dh0).addmm_(dg_t[t], w_hh)
        flat = d_gates.view(steps * batch, -1)
        d_w_hh = torch.mm(flat.t(), h_prev.reshape(steps * batch, hidden))  # one large matmul
        return d_gates, dh0, dc, d_w_hh, None


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
                reverse: bool) -> tuple[Tensor, Tensor]:
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        x = torch.empty_like(gi, memory_format=torch.contiguous_format)  # (T, B, 3H)
        x[:, :, : 2 * hidden] = gi[:, :, : 2 * hidden]
        x[:, :, 2 * hidden :] = 0 if b_hn is None else b_hn
        n = gi.new_empty(steps, batch, hidden)
        hs = gi.new_empty(steps + 1, batch, hidden)
        off = 0 if reverse else 1
        hs[steps if reverse else 0] = h0
        w_t = w_hh.t()
        x_t, h_t, n_t = x.unbind(0), hs.unbind(0), n.unbind(0)
        rz = x[:, :, : 2 * hidden].unbind(0)
        r_, z_, gh_n = (v.unbind(0) for v in x.chunk(3, 2))
        gi_n = gi[:, :, 2 * hidden :].unbind(0)
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            x_t[t].addmm_(h_t[before], w_t)  # (B, 3H)
            rz[t].sigmoid_()
            torch.addcmul(gi_n[t], r_[t], gh_n[t], out=n_t[t]).tanh_()
            torch.lerp(n_t[t], h_t[before], z_[t], out=h_t[now])  # n + z (h - n)
        ctx.save_for_backward(x, n, hs, w_hh)
        ctx.reverse, ctx.has_bias = reverse, b_hn is not None
        ctx.set_materialize_grads(False)
        last = 0 if reverse else steps
        return hs[off : off + steps], hs[last].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None,
                 dh_n: Tensor | None) -> tuple[Tensor | None, ...]:
        x, n, hs, w_hh = ctx.saved_tensors
        reverse = ctx.reverse
        steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        off = 0 if reverse else 1
        h_prev = hs[1 - off : 1 - off + steps]
        r, z, gh_n = x.chunk(3, 2)
        one = x.new_ones(())

        a = x.new_empty(steps, batch, 4, hidden)  # [dgh_n, dG_r, dG_z, dG_n] = dh * a
        a_n = torch.addcmul(one, n, n, value=-1, out=a[:, :, 3])
        a_n.addcmul_(a_n, z, value=-1)  # (1 - n^2) (1 - z)
        rz = x[:, :, : 2 * hidden].unflatten(2, (2, hidden))
        torch.addcmul(rz, rz, rz, value=-1, out=a[:, :, 1:3])  # r (1 - r), z (1 - z)
        a[:, :, 1].mul_(gh_n).mul_(a_n)
        a[:, :, 2].mul_(h_prev - n)
        torch.mul(a_n, r, out=a[:, :, 0])

        d = x.new_empty(steps, batch, 4 * hidden)
        w_nrz = torch.cat([w_hh[2 * hidden :], w_hh[: 2 * hidden]])  # rows n, r, z
        d_t, a_t, z_t = d.unflatten(2, (4, hidden)).unbind(0), a.unbind(0), z.unbind(0)
        d_gh = d[:, :, : 3 * hidden]
        d_gh_t = d_gh.unbind(0)
        dh_all = _accumulator(dy, hs.new_zeros(steps, batch, hidden))
        dh_t = dh_all.unbind(0)
        order = list(_order(steps, not reverse))
        if dh_n is not None:
            dh_t[order[0]].add_(dh_n)
        dh0 = hs.new_zeros(batch, hidden)
        for k, t in enumerate(order):
            dh = dh_t[t]
            torch.mul(dh.unsqueeze(1), a_t[t], out=d_t[t])  # (B, 4, H)
            target = dh_t[order[k + 1]] if k + 1 < steps else dh0
            target.addcmul_(dh, z_t[t])
            target.addmm_(d_gh_t[t], w_nrz)
        flat = d_gh.reshape(steps * batch, 3 * hidden)
        d_w = torch.mm(flat.t(), h_prev.reshape(steps * batch, hidden))  # one large matmul
        d_w_hh = torch.cat([d_w[hidden:], d_w[:hidden]])  # back to rows r, z, n
        d_b_hn = d[:, :, :hidden].sum((0, 1)) if ctx.has_bias else None
        return d[:, :, hidden:], dh0, d_w_hh, d_b_hn, None


class FusedScan(nn.Module):
    """The scan contract of :mod:`rnnbench.impls` over :class:`LSTMScan` / :class:`GRUScan`.

    Masked (variable-length) input goes to ``fallback``, the eager scan of the same cell.
    """

    def __init__(self, cell: str, fallback: nn.Module) -> None:
        super().__init__()
        self.cell, self.fallback = cell, fallback

    def forward(self, gi: Tensor, state: list[Tensor], w_hh: Tensor, b_step: Tensor | None,
                reverse: bool, mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        if mask is not None:
            return self.fallback(gi, state, w_hh, b_step, reverse, mask)
        if self.cell == "lstm":
            out, h, c = LSTMScan.apply(gi, state[0], state[1], w_hh, reverse)
            return out, [h, c]
        out, h = GRUScan.apply(gi, state[0], w_hh, b_step, reverse)
        return out, [h]


def fused(cell: str) -> nn.Module:
    """The ``fused`` scan factory registered in :data:`rnnbench.impls.IMPLS`."""
    from rnnbench.impls import STEPS, Scan  # here: impls imports this module

    return FusedScan(cell, Scan(STEPS[cell]()))
