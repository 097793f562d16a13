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


class LSTMScan(torch.autograd.Function):
    """One LSTM layer and direction. ``gi (T, B, 4H)`` holds ``W_ih x_t + b_ih + b_hh``.

    Saved for the backward: ``gates (T, B, 4H)`` (``i, f, g, o`` after activation), the cell
    states ``c`` and the hidden states ``h`` (each ``(T+1, B, H)`` with the initial state in
    it) and ``tanh(c)``. Backward, with ``dh`` the gradient reaching ``h_t``::

        dc      = dc_{t+1} * f_{t+1}  +  dh * o * (1 - tanh(c)^2)
        dG_o    = dh * tanh(c) * o (1 - o)
        dG_i    = dc * g * i (1 - i)      dG_f = dc * c_{t-1} * f (1 - f)
        dG_g    = dc * i * (1 - g^2)
        dh_{t-1} = dy_{t-1} + dG @ W_hh
    """

    @staticmethod
    def forward(ctx: Any, gi: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor,
                reverse: bool) -> tuple[Tensor, Tensor, Tensor]:
        gi = gi.contiguous()
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        gates = torch.empty_like(gi)  # (T, B, 4H)
        hs = gi.new_empty(steps + 1, batch, hidden)  # h_t at t+off, h_{t-1} at t+1-off
        cs = gi.new_empty(steps + 1, batch, hidden)
        tanh_c = gi.new_empty(steps, batch, hidden)
        off = 0 if reverse else 1
        hs[steps if reverse else 0] = h0
        cs[steps if reverse else 0] = c0
        w_t = w_hh.t()
        # Views prepared in one call each: per-step Python indexing costs more than the ops.
        gate_t, gi_t = gates.unbind(0), gi.unbind(0)
        h_t, c_t, tc_t = hs.unbind(0), cs.unbind(0), tanh_c.unbind(0)
        ifs = gates[:, :, : 2 * hidden].unbind(0)
        i_ = gates[:, :, :hidden].unbind(0)
        f_ = gates[:, :, hidden : 2 * hidden].unbind(0)
        g_ = gates[:, :, 2 * hidden : 3 * hidden].unbind(0)
        o_ = gates[:, :, 3 * hidden :].unbind(0)
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            torch.addmm(gi_t[t], h_t[before], w_t, out=gate_t[t])  # (B, 4H)
            ifs[t].sigmoid_()
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

        # Everything that does not depend on the incoming gradient, for all steps at once.
        a_o = tanh_c * o * (1 - o)  # dG_o = dh * a_o
        a_c = o * (1 - tanh_c * tanh_c)  # dc += dh * a_c
        a_ifg = torch.stack([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)], 2)

        d_gates = torch.empty_like(gates)  # (T, B, 4H), also d(gi)
        dg_ifg = d_gates[:, :, : 3 * hidden].unflatten(2, (3, hidden)).unbind(0)  # (B, 3, H)
        dg_o = d_gates[:, :, 3 * hidden :].unbind(0)
        dg_t, a_o_t, a_c_t, a_ifg_t, f_t = (
            x.unbind(0) for x in (d_gates, a_o, a_c, a_ifg, f)
        )
        dy_t = dy.unbind(0) if dy is not None else None
        dh = dh_n.clone() if dh_n is not None else hs.new_zeros(batch, hidden)
        dc = dc_n.clone() if dc_n is not None else hs.new_zeros(batch, hidden)
        order = list(_order(steps, not reverse))  # the forward's steps, backwards
        if dy_t is not None:
            dh.add_(dy_t[order[0]])
        for k, t in enumerate(order):
            torch.mul(dh, a_o_t[t], out=dg_o[t])
            dc.addcmul_(dh, a_c_t[t])
            torch.mul(dc.unsqueeze(1), a_ifg_t[t], out=dg_ifg[t])
            dc.mul_(f_t[t])
            if k + 1 < steps and dy_t is not None:
                torch.addmm(dy_t[order[k + 1]], dg_t[t], w_hh, out=dh)
            else:
                torch.mm(dg_t[t], w_hh, out=dh)
        flat = d_gates.view(steps * batch, -1)
        d_w_hh = torch.mm(flat.t(), h_prev.reshape(steps * batch, hidden))  # one large matmul
        return d_gates, dh, dc, d_w_hh, None


class GRUScan(torch.autograd.Function):
    """One GRU layer and direction. ``gi (T, B, 3H)`` holds ``W_ih x_t + b_ih + [b_hr, b_hz, 0]``.

    Saved: ``gates (T, B, 3H)`` (``r, z`` after sigmoid, ``n`` after tanh), the recurrent
    products ``gh = h_{t-1} W_hh^T + [0, 0, b_hn]`` and the hidden states. With
    ``h_t = n + z (h_{t-1} - n)`` and ``dh`` the gradient reaching ``h_t``::

        dG_n  = dh * (1 - z) (1 - n^2)              (pre-activation of n; d(gi_n) = dG_n)
        dG_z  = dh * (h_{t-1} - n) z (1 - z)
        dG_r  = dG_n * gh_n * r (1 - r)
        dgh   = [dG_r, dG_z, dG_n * r]               (d of the recurrent product, and d b_hn)
        dh_{t-1} = dy_{t-1} + dh * z + dgh @ W_hh
    """

    @staticmethod
    def forward(ctx: Any, gi: Tensor, h0: Tensor, w_hh: Tensor, b_hn: Tensor | None,
                reverse: bool) -> tuple[Tensor, Tensor]:
        gi = gi.contiguous()
        steps, batch, _ = gi.shape
        hidden = w_hh.shape[1]
        gates = torch.empty_like(gi)  # (T, B, 3H)
        gh = torch.empty_like(gi)  # (T, B, 3H)
        hs = gi.new_empty(steps + 1, batch, hidden)
        off = 0 if reverse else 1
        hs[steps if reverse else 0] = h0
        w_t = w_hh.t()
        bias = None if b_hn is None else torch.cat([b_hn.new_zeros(2 * hidden), b_hn])
        gh_t, h_t = gh.unbind(0), hs.unbind(0)
        rz = gates[:, :, : 2 * hidden].unbind(0)
        gi_rz = gi[:, :, : 2 * hidden].unbind(0)
        gh_rz = gh[:, :, : 2 * hidden].unbind(0)
        r_ = gates[:, :, :hidden].unbind(0)
        z_ = gates[:, :, hidden : 2 * hidden].unbind(0)
        n_ = gates[:, :, 2 * hidden :].unbind(0)
        gi_n = gi[:, :, 2 * hidden :].unbind(0)
        gh_n = gh[:, :, 2 * hidden :].unbind(0)
        for t in _order(steps, reverse):
            now, before = t + off, t + 1 - off
            if bias is None:
                torch.mm(h_t[before], w_t, out=gh_t[t])
            else:
                torch.addmm(bias, h_t[before], w_t, out=gh_t[t])  # (B, 3H)
            torch.add(gi_rz[t], gh_rz[t], out=rz[t]).sigmoid_()
            torch.addcmul(gi_n[t], r_[t], gh_n[t], out=n_[t]).tanh_()
            torch.lerp(n_[t], h_t[before], z_[t], out=h_t[now])  # n + z (h - n)
        ctx.save_for_backward(gates, gh, hs, w_hh)
        ctx.reverse, ctx.has_bias = reverse, b_hn is not None
        ctx.set_materialize_grads(False)
        last = 0 if reverse else steps
        return hs[off : off + steps], hs[last].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor | None,
                 dh_n: Tensor | None) -> tuple[Tensor | None, ...]:
        gates, gh, hs, w_hh = ctx.saved_tensors
        reverse = ctx.reverse
        steps, batch, _ = gates.shape
        hidden = w_hh.shape[1]
        off = 0 if reverse else 1
        h_prev = hs[1 - off : 1 - off + steps]
        r, z, n = gates.chunk(3, 2)
        a_n = (1 - z) * (1 - n * n)  # dG_n = dh * a_n
        a_gh = torch.stack(  # dgh = dh * a_gh, (T, B, 3, H)
            [a_n * gh[:, :, 2 * hidden :] * r * (1 - r), (h_prev - n) * z * (1 - z), a_n * r], 2
        )

        d_gh = torch.empty_like(gates)  # (T, B, 3H)
        dh_all = hs.new_empty(steps, batch, hidden)  # dh reaching h_t, for dG_n at the end
        d_gh_t, a_gh_t, z_t, dh_t = d_gh.unbind(0), a_gh.unbind(0), z.unbind(0), dh_all.unbind(0)
        dy_t = dy.unbind(0) if dy is not None else None
        order = list(_order(steps, not reverse))
        first = order[0]
        if dh_n is not None:
            dh_t[first].copy_(dh_n)
            if dy_t is not None:
                dh_t[first].add_(dy_t[first])
        elif dy_t is not None:
            dh_t[first].copy_(dy_t[first])
        else:
            dh_t[first].zero_()
        dh0 = hs.new_empty(batch, hidden)
        for k, t in enumerate(order):
            dh = dh_t[t]
            torch.mul(dh.unsqueeze(1), a_gh_t[t], out=d_gh_t[t].view(batch, 3, hidden))
            target = dh_t[order[k + 1]] if k + 1 < steps else dh0
            if k + 1 < steps and dy_t is not None:
                torch.addcmul(dy_t[order[k + 1]], dh, z_t[t], out=target)
            else:
                torch.mul(dh, z_t[t], out=target)
            target.addmm_(d_gh_t[t], w_hh)
        flat = d_gh.view(steps * batch, -1)
        d_w_hh = torch.mm(flat.t(), h_prev.reshape(steps * batch, hidden))  # one large matmul
        d_gi = d_gh.clone()
        torch.mul(dh_all, a_n, out=d_gi[:, :, 2 * hidden :])
        d_b_hn = d_gh[:, :, 2 * hidden :].sum((0, 1)) if ctx.has_bias else None
        return d_gi, dh0, d_w_hh, d_b_hn, None


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
