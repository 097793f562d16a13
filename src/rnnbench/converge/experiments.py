"""The convergence tasks behind one interface, with their default settings.

An experiment prepares its data once, builds a model per cell, yields the training batches of
``(seed, epoch)`` (reproducible, so an interrupted run resumes exactly) and the evaluation
batches of its ``eval_splits`` (after every epoch), and tallies a batch's loss and hits.
IMDB's test split is scored only after an epoch that beats every earlier validation accuracy:
the result is reported at the best-validation epoch alone, and its 25,000 reviews would
otherwise cost about as much as the training epoch.

- ``imdb``: the article's sentiment classifier (:class:`ImdbSettings`: embed 256, hidden 128,
  2 layers, dropout 0.5, Adam lr 1e-3, batch 64) plus ours: 10,000 words seen twice or more,
  the first 256 tokens, 20 % of the training reviews held out for validation (the same split
  for every run seed). Accuracy is the share of reviews classified right.
- ``adding`` and ``copy`` (:mod:`rnnbench.converge.tasks`): fresh batches every step and a
  fixed held-out set. Accuracy is the share of sums within 0.04 (Hochreiter & Schmidhuber's
  criterion) or of recalled symbols right. Adam lr 1e-2: at T=100 it let an LSTM solve the
  adding problem in 700 steps; at 3e-3 it was still at the baseline after 1,000.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnbench.converge import imdb, tasks
from rnnbench.converge.batches import Batch, bucketed_order, collate, sorted_order
from rnnbench.converge.metrics import best_epoch, convergence_epoch
from rnnbench.converge.models import ConvergenceModel, OneHot, RecurrentStack, classifier
from rnnbench.converge.vocab import Vocabulary, tokenize
from rnnbench.model.params import check_stack
from rnnbench.validate import check_dropout, check_positive

#: The held-out set of the synthetic tasks is the same for every run seed.
EVAL_SEED = 2**31 - 1
ADDING_TOLERANCE = 0.04


@dataclass(frozen=True)
class Tally:
    """Sums over one batch: ``loss_sum`` is differentiable; ``hits`` out of ``hit_count``."""

    loss_sum: Tensor
    loss_count: int
    hits: int
    hit_count: int


@dataclass(frozen=True)
class ImdbSettings:
    """Everything but cells, seeds and epochs that decides an IMDB run."""

    embed_dim: int = 256
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.5
    lr: float = 1e-3
    batch_size: int = 64
    max_len: int = 256
    vocab_size: int = 10_000
    min_freq: int = 2
    val_fraction: float = 0.2
    limit: int | None = None
    split_seed: int = 0
    grad_clip: float | None = None
    impl: str = "native"


@dataclass(frozen=True)
class SyntheticSettings:
    """Everything but cells, seeds and epochs that decides an adding or copy run."""

    seq_len: int
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    lr: float = 1e-2
    batch_size: int = 64
    steps_per_epoch: int = 100
    eval_size: int = 1000
    grad_clip: float | None = 1.0
    impl: str = "native"


def _check_common(settings: ImdbSettings | SyntheticSettings) -> None:
    check_stack(settings.hidden_size, settings.num_layers)  # before any data is read
    check_positive("batch_size", settings.batch_size)
    check_dropout(settings.dropout)
    for name in ("lr", "grad_clip"):
        value = getattr(settings, name)
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name}={value!r} is not accepted: expected a positive, finite "
                             "number")


class ImdbExperiment:
    """IMDB sentiment: train on the training split less validation, report val and test."""

    task = "imdb"
    eval_splits = ("val",)

    def __init__(self, settings: ImdbSettings, data_path: Path) -> None:
        _check_common(settings)
        for name in ("embed_dim", "max_len", "vocab_size", "min_freq"):
            check_positive(name, getattr(settings, name))
        if settings.limit is not None:
            check_positive("limit", settings.limit)
        if not 0 < settings.val_fraction < 1:
            raise ValueError(f"val_fraction={settings.val_fraction!r} is not accepted: "
                             "expected a number strictly between 0 and 1")
        check_memory(settings, settings.max_len, settings.embed_dim, 0, settings.vocab_size)
        self.settings, self.data_path = settings, data_path

    def prepare(self) -> dict[str, object]:
        """Reads, splits, tokenises and encodes the reviews; returns sizes for the record."""
        s = self.settings
        reviews = imdb.load(self.data_path)
        train, test = list(reviews["train"]), list(reviews["test"])
        generator = torch.Generator().manual_seed(s.split_seed)
        if s.limit is not None:
            for split, available in (("train", len(train)), ("test", len(test))):
                if s.limit > available:
                    raise ValueError(
                        f"limit={s.limit} is not accepted: the {split} split of "
                        f"{str(self.data_path)!r} has only {available} reviews; expected "
                        f"1..{min(len(train), len(test))}"
                    )
            train = [train[i] for i in torch.randperm(len(train), generator=generator)[:s.limit]]
            test = [test[i] for i in torch.randperm(len(test), generator=generator)[:s.limit]]
        order = torch.randperm(len(train), generator=generator).tolist()
        n_val = round(s.val_fraction * len(train))
        if not 0 < n_val < len(train):
            raise ValueError(f"val_fraction={s.val_fraction} of {len(train)} training reviews "
                             "leaves no validation or no training review; use more reviews")
        parts = {"train": [train[i] for i in order[n_val:]],
                 "val": [train[i] for i in order[:n_val]], "test": test}
        tokens = {name: [tokenize(r.text) for r in part] for name, part in parts.items()}
        self.vocab = Vocabulary.build(tokens["train"], s.vocab_size, s.min_freq)
        self.sequences = {name: [torch.tensor(self.vocab.encode(t, s.max_len)) for t in split]
                          for name, split in tokens.items()}
        self.labels = {name: torch.tensor([r.label for r in part]) for name, part in parts.items()}
        train_lengths = [len(t) for t in tokens["train"]]
        return {
            "source": self.data_path.name,
            **{name: len(part) for name, part in parts.items()},
            "vocab_size": len(self.vocab),
            "mean_tokens": sum(train_lengths) / len(train_lengths),
            "mean_tokens_kept": sum(min(n, s.max_len) for n in train_lengths) / len(train_lengths),
            "truncated_share": sum(n > s.max_len for n in train_lengths) / len(train_lengths),
            "positive_share": {name: float(self.labels[name].float().mean()) for name in parts},
        }

    def build_model(self, cell: str) -> ConvergenceModel:
        s = self.settings
        return classifier(cell, s.impl, len(self.vocab), s.embed_dim, s.hidden_size,
                          s.num_layers, s.dropout)

    def train_batches(self, seed: int, epoch: int) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(_epoch_seed(seed, epoch))
        lengths = [len(x) for x in self.sequences["train"]]
        for indices in bucketed_order(lengths, self.settings.batch_size, generator):
            yield collate(self.sequences["train"], indices, self.labels["train"])

    def train_steps(self) -> int:
        return math.ceil(len(self.sequences["train"]) / self.settings.batch_size)

    def eval_batches(self, split: str) -> Iterator[Batch]:
        sequences = self.sequences[split]
        for indices in sorted_order([len(x) for x in sequences], self.settings.batch_size):
            yield collate(sequences, indices, self.labels[split])

    def tally(self, output: Tensor, batch: Batch) -> Tally:
        loss = F.cross_entropy(output, batch.targets, reduction="sum")
        hits = int((output.argmax(1) == batch.targets).sum())
        return Tally(loss, len(batch.targets), hits, len(batch.targets))

    def held_out(self, earlier: list[dict[str, float]], row: dict[str, float]) -> tuple[str, ...]:
        """``("test",)`` when ``row`` is the best-validation epoch so far (ties: the earliest)."""
        best = all(row["val_accuracy"] > e["val_accuracy"] for e in earlier)
        return ("test",) if best else ()

    def summarise(self, epochs: list[dict[str, float]]) -> dict[str, object]:
        val = [e["val_accuracy"] for e in epochs]
        best = best_epoch(val)
        return {
            "epochs_run": len(epochs),
            "best_val_accuracy": max(val) if val else None,
            "best_epoch": best,
            "test_accuracy_at_best": epochs[best - 1]["test_accuracy"] if best else None,
            "converged_epoch": convergence_epoch(val),
        }


def check_memory(settings: ImdbSettings | SyntheticSettings, length: int, features: int,
                 held_out: int, table: int = 0) -> None:
    """Refuse sizes whose tensors cannot fit in this machine's memory, before any is made
    (a run would otherwise eat all of it, or die in the allocator).

    A lower bound in float32 bytes: the parameters (``table`` embedding rows of ``features``,
    and per layer and direction at most 4 gate blocks of ``H x (features + H)``, as LSTM),
    what the backward keeps of one batch (the gates and states of every step) and the held-out
    inputs (``held_out`` sequences of ``length`` steps of ``features``).
    """
    H, layers = settings.hidden_size, settings.num_layers
    params = table * features + layers * 2 * 4 * H * (max(features, H) + H + 2)
    activations = settings.batch_size * length * layers * 2 * 6 * H
    needed = 4 * (params + activations + held_out * length * features)
    available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed > available:
        raise ValueError(
            f"hidden_size={H}, num_layers={layers}, batch_size={settings.batch_size} at "
            f"{length} steps are not accepted: the run needs at least {needed / 2**30:,.1f} GiB "
            f"of memory and this machine has {available / 2**30:,.1f} GiB; choose smaller sizes")


class SyntheticExperiment:
    """The adding problem or the copy-memory task at sequence length ``seq_len``."""

    eval_splits = ("eval",)

    def held_out(self, earlier: list[dict[str, float]], row: dict[str, float]) -> tuple[str, ...]:
        """None: the synthetic tasks have one evaluation set, scored every epoch."""
        return ()

    def __init__(self, task: str, settings: SyntheticSettings) -> None:
        _check_common(settings)
        for name in ("seq_len", "steps_per_epoch", "eval_size"):
            check_positive(name, getattr(settings, name))
        features = 2 if task == "adding" else tasks.COPY_INPUT_CLASSES
        check_memory(settings, settings.seq_len, features, settings.eval_size)
        self.task, self.settings = task, settings
        self._make = tasks.adding_batch if task == "adding" else tasks.copy_batch
        self._make(1, settings.seq_len, torch.Generator())  # reject a bad seq_len now

    def prepare(self) -> dict[str, object]:
        s = self.settings
        generator = torch.Generator().manual_seed(EVAL_SEED)
        self.eval_set = [self._batch(min(s.batch_size, s.eval_size - k), generator)
                         for k in range(0, s.eval_size, s.batch_size)]
        baseline = (tasks.ADDING_BASELINE_MSE if self.task == "adding"
                    else tasks.copy_baseline_loss(s.seq_len))
        return {"eval": s.eval_size, "baseline_loss": baseline, "solved_when": self.solved_when}

    @property
    def solved_when(self) -> str:
        if self.task == "adding":
            return f"eval_loss (MSE) < {tasks.ADDING_SOLVED_MSE}"
        return f"eval_accuracy (recalled symbols) >= {tasks.COPY_SOLVED_ACCURACY}"

    def _batch(self, size: int, generator: torch.Generator) -> Batch:
        inputs, targets = self._make(size, self.settings.seq_len, generator)
        return Batch(inputs, torch.full((size,), inputs.shape[1]), targets)

    def build_model(self, cell: str) -> ConvergenceModel:
        s = self.settings
        if self.task == "adding":
            stack = RecurrentStack(cell, s.impl, 2, s.hidden_size, s.num_layers, s.dropout)
            return ConvergenceModel(nn.Identity(), stack, outputs=1)
        stack = RecurrentStack(cell, s.impl, tasks.COPY_INPUT_CLASSES, s.hidden_size,
                               s.num_layers, s.dropout)
        return ConvergenceModel(OneHot(tasks.COPY_INPUT_CLASSES), stack,
                                outputs=tasks.COPY_OUTPUT_CLASSES, per_step=True)

    def train_batches(self, seed: int, epoch: int) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(_epoch_seed(seed, epoch))
        for _ in range(self.settings.steps_per_epoch):
            yield self._batch(self.settings.batch_size, generator)

    def train_steps(self) -> int:
        return self.settings.steps_per_epoch

    def eval_batches(self, split: str) -> Iterator[Batch]:
        return iter(self.eval_set)

    def tally(self, output: Tensor, batch: Batch) -> Tally:
        if self.task == "adding":  # output (B,), targets (B,)
            error = output - batch.targets
            hits = int((error.abs() < ADDING_TOLERANCE).sum())
            return Tally((error**2).sum(), error.numel(), hits, error.numel())
        # copy: output (B, T+20, classes), targets (B, T+20); only the recall steps score hits
        loss = F.cross_entropy(output.flatten(0, 1), batch.targets.flatten(), reduction="sum")
        recall = output[:, -tasks.COPY_SYMBOLS:].argmax(2) == batch.targets[:, -tasks.COPY_SYMBOLS:]
        return Tally(loss, batch.targets.numel(), int(recall.sum()), recall.numel())

    def is_solved(self, epoch: dict[str, float]) -> bool:
        if self.task == "adding":
            return epoch["eval_loss"] < tasks.ADDING_SOLVED_MSE
        return epoch["eval_accuracy"] >= tasks.COPY_SOLVED_ACCURACY

    def summarise(self, epochs: list[dict[str, float]]) -> dict[str, object]:
        solved_at = next((i for i, e in enumerate(epochs) if self.is_solved(e)), None)
        last = epochs[-1] if epochs else {}
        return {
            "epochs_run": len(epochs),
            "steps_run": len(epochs) * self.settings.steps_per_epoch,
            "solved": solved_at is not None,
            "steps_to_solve": None if solved_at is None
            else (solved_at + 1) * self.settings.steps_per_epoch,
            "final_loss": last.get("eval_loss"),
            "final_accuracy": last.get("eval_accuracy"),
            "best_loss": min((e["eval_loss"] for e in epochs), default=None),
            "wall_seconds": sum(e["train_seconds"] + e["eval_seconds"] for e in epochs),
        }


def _epoch_seed(seed: int, epoch: int) -> int:
    """A distinct, reproducible stream of batches per (run seed, epoch)."""
    return seed * 1_000_003 + epoch


Experiment = ImdbExperiment | SyntheticExperiment
