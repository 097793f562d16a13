"""Long-range synthetic tasks: the adding problem and the copy-memory task.

Both are classic probes of whether a recurrence carries information over ``T`` steps; both
are generated on the fly from a seeded ``torch.Generator``, so a run needs no data and
every batch is reproducible from ``(seed, epoch, step)``.

**Adding problem** (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015): input
``(B, T, 2)``: channel 0 holds values drawn from ``U(0, 1)``, channel 1 is a marker that is 1
at exactly two steps, one in each half of the sequence. The target is the sum of the two
marked values. Predicting the mean (1.0) gives ``MSE = Var(u1 + u2) = 2/12 ≈ 0.167``
(:data:`ADDING_BASELINE_MSE`); the task counts as solved below :data:`ADDING_SOLVED_MSE`.

**Copy memory** (Arjovsky, Shah & Bengio 2016): input ``(B, T + 20)`` symbols: 10 data
symbols from ``1..8``, ``T - 1`` blanks (0), the delimiter 9, then 10 blanks. The target is
blank everywhere except the last 10 steps, which must repeat the data symbols. Emitting
blanks and then guessing gives a cross-entropy of ``10 ln 8 / (T + 20)``
(:func:`copy_baseline_loss`); the task counts as solved when at least
:data:`COPY_SOLVED_ACCURACY` of the recalled symbols are right (chance: 1/8).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnbench.validate import check_positive

#: MSE of always predicting the mean sum 1.0: ``Var(U(0,1) + U(0,1)) = 2/12``.
ADDING_BASELINE_MSE = 2 / 12
#: The adding problem counts as solved when the held-out MSE is below this (6 % of baseline).
ADDING_SOLVED_MSE = 0.01

#: Data symbols to remember in the copy task, and the size of their alphabet (1..8).
COPY_SYMBOLS, COPY_ALPHABET = 10, 8
#: Input classes of the copy task: blank 0, data 1..8, delimiter 9.
COPY_INPUT_CLASSES = COPY_ALPHABET + 2
#: Output classes of the copy task: blank 0, data 1..8.
COPY_OUTPUT_CLASSES = COPY_ALPHABET + 1
#: The copy task counts as solved when this share of recalled symbols is right.
COPY_SOLVED_ACCURACY = 0.99


def adding_batch(batch_size: int, seq_len: int,
                 generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """One adding-problem batch: inputs ``(B, T, 2)`` and targets ``(B,)``.

    One marker falls uniformly in ``[0, T/2)``, the other in ``[T/2, T)``, so the first
    value must be held for about ``T/2`` steps or more.
    """
    check_positive("batch_size", batch_size)
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 2:
        raise ValueError(f"seq_len={seq_len!r} is not accepted: expected an integer >= 2")
    half = seq_len // 2
    values = torch.rand(batch_size, seq_len, generator=generator)
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, seq_len, (batch_size,), generator=generator)
    markers = torch.zeros(batch_size, seq_len)
    rows = torch.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=2), targets  # (B, T, 2), (B,)


def copy_batch(batch_size: int, seq_len: int,
               generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """One copy-memory batch: input symbols and targets, both ``(B, T + 20)`` integers.

    ``seq_len`` is the paper's ``T``: the data symbols must be held for ``T + 10`` steps.
    """
    check_positive("batch_size", batch_size)
    check_positive("seq_len", seq_len)
    total = seq_len + 2 * COPY_SYMBOLS
    data = torch.randint(1, COPY_ALPHABET + 1, (batch_size, COPY_SYMBOLS), generator=generator)
    inputs = torch.zeros(batch_size, total, dtype=torch.long)
    inputs[:, :COPY_SYMBOLS] = data
    inputs[:, seq_len + COPY_SYMBOLS - 1] = COPY_ALPHABET + 1  # the delimiter: "recall now"
    targets = torch.zeros(batch_size, total, dtype=torch.long)
    targets[:, -COPY_SYMBOLS:] = data
    return inputs, targets


def copy_baseline_loss(seq_len: int) -> float:
    """Cross-entropy per step of the memoryless strategy: blanks, then uniform guesses."""
    return COPY_SYMBOLS * math.log(COPY_ALPHABET) / (seq_len + 2 * COPY_SYMBOLS)
