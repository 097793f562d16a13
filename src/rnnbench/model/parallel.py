"""impl ``parallel``: the whole sequence at once, for cells whose gates see only the input.

minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?") compute
``h_t = a_t ⊙ h_{t-1} + b_t`` with ``a_t, b_t > 0`` depending on ``x_t`` alone, so the
recurrence unrolls to ``h_t = A_t h_0 + Σ_{k≤t} (A_t / A_k) b_k`` with ``A_t = Π_{j≤t} a_j``.
In log space (Heinsen 2023), with ``a* = cumsum(log a)``::

    h_t = exp(a*_t) ⊙ h_0 + exp(a*_t + logcumsumexp_k(log b_k - a*_k))

which is a handful of whole-sequence tensor ops instead of ``T`` dependent steps. The initial
state enters linearly, so it may have any sign (the paper's form takes its log). Padded steps
of variable-length input get ``a = 1, b ≈ 0``: the state is kept, as the step loops keep it.
``tests/test_zoo.py`` checks that this and the step loop agree to 1e-10 in float64, outputs
and gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: ``log b`` at padded steps: finite, so that no ``-inf - -inf`` reaches the backward.
_NOTHING = -1e30


def log_g(x: Tensor) -> Tensor:
    """``log g(x)`` with the paper's ``g(x) = x + 1/2`` for ``x ≥ 0``, else ``σ(x)`` (> 0)."""
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


def _scan(log_a: Tensor, log_b: Tensor, h0: Tensor, reverse: bool,
          mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
    if mask is not None:  # (T, B, 1): padded steps keep the state
        log_a = log_a.masked_fill(~mask, 0.0)
        log_b = log_b.masked_fill(~mask, _NOTHING)
    if reverse:
        log_a, log_b = log_a.flip(0), log_b.flip(0)
    a_star = log_a.cumsum(0)  # (T, B, H)
    h = a_star.exp() * h0 + (a_star + torch.logcumsumexp(log_b - a_star, 0)).exp()
    final = h[-1]
    if reverse:
        h = h.flip(0)
    return (h if mask is None else h * mask), [final]


def mingru_scan(gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
                mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
    """``gi (T, B, 2H)`` = ``[k_z, k_h]``: ``z = σ(k_z)``, ``a = 1 - z``, ``b = z ⊙ g(k_h)``."""
    k_z, k_h = gi.chunk(2, 2)
    return _scan(-F.softplus(k_z), -F.softplus(-k_z) + log_g(k_h), state[0], reverse, mask)


def minlstm_scan(gi: Tensor, state: list[Tensor], weights: list[Tensor], reverse: bool,
                 mask: Tensor | None) -> tuple[Tensor, list[Tensor]]:
    """``gi (T, B, 3H)`` = ``[k_f, k_i, k_h]``: ``a = f/(f+i)``, ``b = i/(f+i) ⊙ g(k_h)``."""
    k_f, k_i, k_h = gi.chunk(3, 2)
    diff = F.softplus(-k_f) - F.softplus(-k_i)  # log(i / f)
    return _scan(-F.softplus(diff), -F.softplus(-diff) + log_g(k_h), state[0], reverse, mask)
