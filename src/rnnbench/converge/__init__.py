"""Convergence: how many steps each gating mechanism needs, on synthetic tasks and IMDB.

Modules, one job each: :mod:`~rnnbench.converge.tasks` (adding and copy-memory generators),
:mod:`~rnnbench.converge.imdb` (safe loader and opt-in download), :mod:`~rnnbench.converge.vocab`
(tokeniser, vocabulary), :mod:`~rnnbench.converge.batches` (length-bucketed padded batches),
:mod:`~rnnbench.converge.models` (recurrent stack and heads), :mod:`~rnnbench.converge.experiments`
(the tasks behind one interface, default settings), :mod:`~rnnbench.converge.train` (the
loop), :mod:`~rnnbench.converge.metrics` (convergence epoch, steps to solve, memory, spread) and
:mod:`~rnnbench.converge.store` (results JSON schema, atomic writes, resume).
"""

from rnnbench.converge.experiments import (
    ImdbExperiment,
    ImdbSettings,
    SyntheticExperiment,
    SyntheticSettings,
)
from rnnbench.converge.metrics import convergence_epoch
from rnnbench.converge.models import CELLS
from rnnbench.converge.store import ResultsStore
from rnnbench.converge.train import run

__all__ = [
    "CELLS",
    "ImdbExperiment",
    "ImdbSettings",
    "ResultsStore",
    "SyntheticExperiment",
    "SyntheticSettings",
    "convergence_epoch",
    "run",
]
