"""``rnnbench report``: the measurements as tables, plots and a selection guide.

Modules, one job each: :mod:`~rnnbench.report.load` (benchmark JSON, clear errors),
:mod:`~rnnbench.report.convergence` (convergence JSON, spread over seeds),
:mod:`~rnnbench.report.analysis` (queries over benchmark cases), :mod:`~rnnbench.report.seed`
(the seed article's numbers, as data), :mod:`~rnnbench.report.accounting` (parameter tables
and the seed's arithmetic), :mod:`~rnnbench.report.style` (one colour per cell, saving),
:mod:`~rnnbench.report.plots` and :mod:`~rnnbench.report.speed` (speed and memory figures and
tables), :mod:`~rnnbench.report.curves` and :mod:`~rnnbench.report.learning` (learning
curves, the seed-style table), :mod:`~rnnbench.report.guide` (the selection guide),
:mod:`~rnnbench.report.compare` (two files side by side), :mod:`~rnnbench.report.tables`
(markdown and number formats) and :mod:`~rnnbench.report.readme` (assembles ``README.md``).
"""

from rnnbench.report.readme import Inputs, default_inputs, generate, load_inputs

__all__ = ["Inputs", "default_inputs", "generate", "load_inputs"]
