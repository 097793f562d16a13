"""Steps: where a case's ratio to native moved between one commit and the next, beyond noise.

asv finds steps by fitting a piecewise-constant line to a series of medians, because its
neighbouring runs were measured at different times and share nothing but the machine. A
history run measures its commits in lockstep: round ``r`` of every commit ran seconds apart,
so the change from one commit to the next is judged on paired rounds, as the A/B gate judges
two trees (:func:`rnnbench.gate.stats.paired_ratio`): a step is a ratio of at least
:data:`MIN_RATIO` (slower or faster) whose one-sided Wilcoxon test *against that minimum
effect* gives ``p < ALPHA``, and that shows in the rounds of every worker process (round ``r``
came from worker ``r % workers``): one process can run a case slow for its whole life, and its
rounds alone must not make a step. Neighbours from separate runs fall back to the unpaired test of
the normalised rounds (Mann-Whitney U), with the ratio itself at least :data:`MIN_RATIO`.
Only neighbours whose medians differ by the minimum effect are tested at all, which keeps a
storage of thousands of runs quick to scan.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from rnnbench.gate.stats import paired_ratio, unpaired_ratio
from rnnbench.history.series import Point

MIN_RATIO = 1.05
ALPHA = 0.01


@dataclass(frozen=True)
class Step:
    """Case ``case`` moved at ``commit`` (from ``previous``): ratio to native ``before`` ->
    ``after``; ``size`` is the paired (or unpaired) ratio of the two, above 1 for slower."""

    case: str
    commit: str
    previous: str
    before: float
    after: float
    size: float
    p: float
    paired: bool


def steps(points: Sequence[Point], min_ratio: float = MIN_RATIO,
          alpha: float = ALPHA) -> list[Step]:
    """The steps in one case's series (custom cases: native is the reference)."""
    found = []
    for a, b in itertools.pairwise(points):
        if (a.ratio is None or b.ratio is None or not a.native or not b.native
                or not all(x.data for x in (a.result, b.result, a.native, b.native))):
            continue  # no rounds, no test
        if max(b.ratio / a.ratio, a.ratio / b.ratio) < min_ratio:
            continue
        paired = _paired(a, b)
        if paired:
            slower = b.ratio > a.ratio
            first, second = (b, a) if slower else (a, b)
            size, _, p, _ = paired_ratio(first.result.data, second.result.data,
                                         first.native.data, second.native.data, above=min_ratio)
            size = size if slower else 1 / size
            if not _in_every_worker(first, second, min_ratio):
                continue
        else:
            size, _, p_slower, p_faster = unpaired_ratio(b.result.data, a.result.data,
                                                         b.native.data, a.native.data)
            p = p_slower if size > 1 else p_faster
            if max(size, 1 / size) < min_ratio:
                continue
        if p < alpha:
            found.append(Step(b.result.name, b.run.commit or b.run.path,
                              a.run.commit or a.run.path, a.ratio, b.ratio, size, p, paired))
    return found


def _in_every_worker(first: Point, second: Point, min_ratio: float) -> bool:
    """Whether the rounds of each worker alone put ``first`` at least ``min_ratio`` above
    ``second`` (their median paired ratio)."""
    ratios = [x / y for x, y in zip(first.round_ratios, second.round_ratios, strict=True)]
    workers = int(first.run.suite.get("workers") or 1)
    return all(statistics.median(ratios[w::workers]) >= min_ratio for w in range(workers))


def _paired(a: Point, b: Point) -> bool:
    """Whether the rounds of ``a`` and ``b`` were measured in one lockstep run."""
    session = a.run.suite.get("session")
    return (bool(session) and session == b.run.suite.get("session")
            and len(a.result.data) == len(b.result.data) == len(a.native.data)
            == len(b.native.data) > 0)
