"""The adding problem and the copy-memory task generate what their definitions say."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from rnnbench.converge import tasks


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@given(batch=st.integers(1, 16), seq_len=st.integers(2, 120), seed=st.integers(0, 2**16))
def test_adding_marks_one_value_in_each_half_and_targets_their_sum(batch, seq_len, seed) -> None:
    inputs, targets = tasks.adding_batch(batch, seq_len, generator(seed))
    assert inputs.shape == (batch, seq_len, 2) and targets.shape == (batch,)
    values, markers = inputs[..., 0], inputs[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    half = seq_len // 2
    assert (markers[:, :half].sum(1) == 1).all() and (markers[:, half:].sum(1) == 1).all()
    assert torch.allclose(targets, (values * markers).sum(1))


def test_adding_is_reproducible_from_its_generator() -> None:
    first = tasks.adding_batch(8, 30, generator(5))
    again = tasks.adding_batch(8, 30, generator(5))
    other = tasks.adding_batch(8, 30, generator(6))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[1], other[1])


def test_predicting_the_mean_scores_the_adding_baseline() -> None:
    _, targets = tasks.adding_batch(20_000, 10, generator())
    mse = float(((targets - 1.0) ** 2).mean())
    assert mse == pytest.approx(tasks.ADDING_BASELINE_MSE, rel=0.03)  # 2/12, sampled
    assert tasks.ADDING_SOLVED_MSE < tasks.ADDING_BASELINE_MSE / 10


@given(batch=st.integers(1, 8), seq_len=st.integers(1, 60), seed=st.integers(0, 2**16))
def test_copy_layout_data_blanks_delimiter_and_recall(batch, seq_len, seed) -> None:
    inputs, targets = tasks.copy_batch(batch, seq_len, generator(seed))
    n = tasks.COPY_SYMBOLS
    assert inputs.shape == targets.shape == (batch, seq_len + 2 * n)
    data = inputs[:, :n]
    assert ((data >= 1) & (data <= tasks.COPY_ALPHABET)).all()
    delimiter = seq_len + n - 1
    assert (inputs[:, delimiter] == tasks.COPY_ALPHABET + 1).all()
    rest = torch.cat([inputs[:, n:delimiter], inputs[:, delimiter + 1:]], dim=1)
    assert (rest == 0).all()  # blanks everywhere else
    assert torch.equal(targets[:, -n:], data)  # recall the data after the delimiter...
    assert (targets[:, :-n] == 0).all()  # ...and stay blank before
    assert int(inputs.max()) < tasks.COPY_INPUT_CLASSES
    assert int(targets.max()) < tasks.COPY_OUTPUT_CLASSES


@pytest.mark.parametrize("seq_len", [1, 50, 100])
def test_copy_baseline_is_the_loss_of_blanks_then_uniform_guesses(seq_len: int) -> None:
    _, targets = tasks.copy_batch(4, seq_len, generator())
    logits = torch.full((*targets.shape, tasks.COPY_OUTPUT_CLASSES), -1e9)
    logits[:, :-tasks.COPY_SYMBOLS, 0] = 0.0  # certain blank while waiting
    logits[:, -tasks.COPY_SYMBOLS:, 1:] = 0.0  # uniform over the 8 symbols when recalling
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    assert float(loss) == pytest.approx(tasks.copy_baseline_loss(seq_len))
    assert tasks.copy_baseline_loss(seq_len) == pytest.approx(10 * math.log(8) / (seq_len + 20))


@pytest.mark.parametrize("make", [tasks.adding_batch, tasks.copy_batch])
@pytest.mark.parametrize(("batch", "seq_len"), [(0, 10), (4, 0), (4, 1.5), (True, 10)])
def test_bad_sizes_are_rejected_by_name(make, batch, seq_len) -> None:
    with pytest.raises(ValueError, match=r"(batch_size|seq_len)=.* is not accepted"):
        make(batch, seq_len, generator())


def test_adding_needs_two_steps() -> None:
    with pytest.raises(ValueError, match="seq_len=1 is not accepted: expected an integer >= 2"):
        tasks.adding_batch(4, 1, generator())
