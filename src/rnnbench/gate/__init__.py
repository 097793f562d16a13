"""A regression gate for pytest-benchmark results that holds on noisy, shared machines:
``rnnbench gate`` (:mod:`rnnbench.commands.gate`), its decision rule
(:mod:`~rnnbench.gate.compare`), and the same gate as a pytest option
(``-p rnnbench.gate.plugin``). Results are read by :mod:`rnnbench.bench.results`.
"""

from rnnbench.gate.compare import Comparison, Rule, UnusableInput, Verdict, compare, load_run

__all__ = ["Comparison", "Rule", "UnusableInput", "Verdict", "compare", "load_run"]
