"""Length bucketing: every example once per epoch, little padding, reproducible."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from rnnbench.converge.batches import bucketed_order, collate, sorted_order


def padded_steps(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


@given(st.lists(st.integers(1, 300), min_size=1, max_size=400), st.integers(1, 64),
       st.integers(0, 1000))
def test_bucketed_batches_cover_every_index_once(lengths, batch_size, seed) -> None:
    batches = bucketed_order(lengths, batch_size, torch.Generator().manual_seed(seed), pool=4)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(0 < len(b) <= batch_size for b in batches)


def test_bucketing_cuts_padding_and_is_reproducible() -> None:
    lengths = torch.randint(5, 400, (5000,), generator=torch.Generator().manual_seed(0)).tolist()
    shuffled = torch.randperm(5000, generator=torch.Generator().manual_seed(1)).tolist()
    random_batches = [shuffled[k:k + 64] for k in range(0, 5000, 64)]
    bucketed = bucketed_order(lengths, 64, torch.Generator().manual_seed(1))
    assert padded_steps(bucketed, lengths) < 1.05 * sum(lengths)
    assert padded_steps(random_batches, lengths) > 1.3 * sum(lengths)
    assert bucketed == bucketed_order(lengths, 64, torch.Generator().manual_seed(1))
    assert bucketed != bucketed_order(lengths, 64, torch.Generator().manual_seed(2))


def test_sorted_order_is_every_index_by_length() -> None:
    lengths = [5, 1, 3, 2, 4]
    assert sorted_order(lengths, 2) == [[1, 3], [2, 4], [0]]


def test_collate_pads_with_zeros_and_keeps_true_lengths() -> None:
    sequences = [torch.tensor([4, 5, 6]), torch.tensor([7]), torch.tensor([8, 9])]
    batch = collate(sequences, [1, 0], torch.tensor([10, 11, 12]))
    assert batch.inputs.tolist() == [[7, 0, 0], [4, 5, 6]]
    assert batch.lengths.tolist() == [1, 3] and batch.targets.tolist() == [11, 10]
    assert batch.tokens == 4 and batch.padded_tokens == 6
