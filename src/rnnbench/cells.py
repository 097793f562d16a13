"""The LSTM and GRU recurrences, written out by hand in PyTorch's own layout.

A cell is split in two, as cuDNN does it: an *input projection* that sees the whole
sequence at once (one large matmul, ``W_ih x_t + biases`` for every ``t``), and a *step*
that only does the work that really depends on ``h_{t-1}``. Steps are ``nn.Module``s without
parameters (weights come in as arguments) so one step serves eager, TorchScript and
``torch.compile`` alike.

Weight layout, identical to ``nn.LSTM`` / ``nn.GRU`` (``H`` hidden, ``I`` input features):

- LSTM: ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih (4H)``, ``bias_hh (4H)``;
  gate blocks in the order **i, f, g, o**::

      i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
      g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
      c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')

- GRU: ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih (3H)``, ``bias_hh (3H)``;
  gate blocks in the order **r, z, n**, the reset gate applied *after* the recurrent matmul::

      r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
      n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
      h' = (1 - z) ⊙ n + z ⊙ h

Only ``b_hn`` cannot be folded into the input projection, because ``r`` multiplies it.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LSTMStep(nn.Module):
    """One LSTM step. ``gi_t (B, 4H)`` already holds ``W_ih x_t + b_ih + b_hh``."""

    def forward(
        self, gi_t: Tensor, state: list[Tensor], w_hh: Tensor, b_step: Optional[Tensor]
    ) -> list[Tensor]:
        h, c = state[0], state[1]
        gates = torch.addmm(gi_t, h, w_hh.t())  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return [h, c]


class GRUStep(nn.Module):
    """One GRU step. ``gi_t (B, 3H)`` holds ``W_ih x_t + b_ih + [b_hr, b_hz, 0]``.

    ``b_step`` is ``b_hn``, added inside the reset gate's product.
    """

    def forward(
        self, gi_t: Tensor, state: list[Tensor], w_hh: Tensor, b_step: Optional[Tensor]
    ) -> list[Tensor]:
        h = state[0]
        gh = torch.mm(h, w_hh.t())  # (B, 3H)
        gi_r, gi_z, gi_n = gi_t.chunk(3, 1)
        gh_r, gh_z, gh_n = gh.chunk(3, 1)
        if b_step is not None:
            gh_n = gh_n + b_step
        r = torch.sigmoid(gi_r + gh_r)
        z = torch.sigmoid(gi_z + gh_z)
        n = torch.tanh(gi_n + r * gh_n)
        return [n + z * (h - n)]  # == (1 - z) * n + z * h, one op fewer


def lstm_projection(
    x: Tensor, w_ih: Tensor, b_ih: Optional[Tensor], b_hh: Optional[Tensor]
) -> tuple[Tensor, Optional[Tensor]]:
    """``(T, B, I) -> (T, B, 4H)``: all input gates at once, both biases folded in."""
    bias = None if b_ih is None or b_hh is None else b_ih + b_hh
    return F.linear(x, w_ih, bias), None


def gru_projection(
    x: Tensor, w_ih: Tensor, b_ih: Optional[Tensor], b_hh: Optional[Tensor]
) -> tuple[Tensor, Optional[Tensor]]:
    """``(T, B, I) -> (T, B, 3H)`` with ``b_hr, b_hz`` folded in; returns ``b_hn`` for the step."""
    if b_ih is None or b_hh is None:
        return F.linear(x, w_ih), None
    hidden = b_hh.shape[0] // 3
    folded = b_ih + torch.cat([b_hh[: 2 * hidden], b_hh.new_zeros(hidden)])
    return F.linear(x, w_ih, folded), b_hh[2 * hidden :]
