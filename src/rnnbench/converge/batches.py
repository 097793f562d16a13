"""Variable-length batches that pay (almost) nothing for padding: length bucketing.

Measured on the 2-core CPU this project develops on (``nn.LSTM`` 256->128, 2 layers,
B64, T<=256, forward+backward, one thread): padded 0.44-0.70 s, the same batch as a
``PackedSequence`` 2.6 s, the masked reference impl on it 0.58 s. So batches are padded
tensors, and padding is kept small instead: indices are shuffled, sorted by length within
pools of ``pool`` batches, cut into batches and the batches shuffled again. The model reads
each sequence's true last state (see :mod:`rnnbench.converge.models`), so the padding left
changes no result, only costs a little time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from rnnbench.converge.vocab import PAD_INDEX


@dataclass(frozen=True)
class Batch:
    """Padded inputs ``(B, T[, F])``, true ``lengths (B,)`` and ``targets``."""

    inputs: Tensor
    lengths: Tensor
    targets: Tensor

    @property
    def tokens(self) -> int:
        """Real (unpadded) steps in the batch."""
        return int(self.lengths.sum())

    @property
    def padded_tokens(self) -> int:
        """Steps the recurrence actually runs: batch size times the longest length."""
        return self.inputs.shape[0] * self.inputs.shape[1]

    def to(self, device: torch.device | str) -> Batch:
        # lengths stay on the CPU: token counts read them there, and models move what they use.
        return Batch(self.inputs.to(device), self.lengths, self.targets.to(device))


def bucketed_order(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator, pool: int = 50
) -> list[list[int]]:
    """Shuffled batches of indices whose lengths are close (see the module docstring)."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    batches: list[list[int]] = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: lengths[i])
        batches += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def sorted_order(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches: every index once, sorted by length (least padding, no shuffle)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[k:k + batch_size] for k in range(0, len(order), batch_size)]


def collate(sequences: Sequence[Tensor], indices: Sequence[int], targets: Tensor) -> Batch:
    """Pads ``sequences[indices]`` with :data:`PAD_INDEX` into a ``(B, T_max)`` batch."""
    chosen = [sequences[i] for i in indices]
    lengths = torch.tensor([len(s) for s in chosen])
    inputs = pad_sequence(chosen, batch_first=True, padding_value=PAD_INDEX)  # (B, T_max)
    return Batch(inputs, lengths, targets[list(indices)])
