"""A regression gate for pytest-benchmark results that holds on noisy, shared machines.

``rnnbench gate BASELINE.json CURRENT.json`` exits 0 (no regression), 1 (regression, each case
printed with old and new time, ratio and why it counts) or 2 (unusable input). Results are read
by :mod:`rnnbench.results`. Modules:

- :mod:`~rnnbench.gate.stats`: Mann–Whitney U and the bootstrap interval of a ratio;
- :mod:`~rnnbench.gate.deterministic`: counts (FLOPs, ATen ops, bytes) that must not grow;
- :mod:`~rnnbench.gate.compare`: the decision rule (documented there);
- :mod:`~rnnbench.gate.report`: text and JSON output;
- :mod:`~rnnbench.gate.plugin`: the same gate as a pytest option (``-p rnnbench.gate.plugin``).
"""

from rnnbench.gate.compare import Comparison, Rule, UnusableInput, Verdict, compare, load_run

__all__ = ["Comparison", "Rule", "UnusableInput", "Verdict", "compare", "load_run"]
