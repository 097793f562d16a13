"""The two statistics behind a timing verdict: a significance test and an interval for the ratio.

Both work on raw per-round timings, not on summaries, because a summary cannot say whether a
difference is larger than the run-to-run noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

#: Resamples of the bootstrap interval; the seed makes the interval reproducible.
RESAMPLES = 2000
SEED = 0


def slower_p_value(current: Sequence[float], baseline: Sequence[float]) -> float:
    """One-sided Mann–Whitney U p-value for "``current`` is stochastically larger".

    Rank based, so a few rounds disturbed by another process cannot carry the decision, and it
    assumes no distribution (timings are skewed to the right).
    """
    return float(stats.mannwhitneyu(current, baseline, alternative="greater").pvalue)


def ratio_of_medians(
    current: Sequence[float],
    baseline: Sequence[float],
    current_ref: Sequence[float] | None = None,
    baseline_ref: Sequence[float] | None = None,
) -> float:
    """``median(current) / median(baseline)``, each first divided by its run's reference."""
    now = float(np.median(current)) / (float(np.median(current_ref)) if current_ref else 1.0)
    then = float(np.median(baseline)) / (float(np.median(baseline_ref)) if baseline_ref else 1.0)
    return now / then


def ratio_interval(
    current: Sequence[float],
    baseline: Sequence[float],
    current_ref: Sequence[float] | None = None,
    baseline_ref: Sequence[float] | None = None,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of :func:`ratio_of_medians`.

    Each sample (the case and its reference, in both runs) is resampled on its own, so the
    interval carries the noise of the reference too, which the U test on normalised timings
    does not.
    """
    samples = [np.asarray(current, float), np.asarray(baseline, float)]
    if current_ref is not None and baseline_ref is not None:
        samples += [np.asarray(current_ref, float), np.asarray(baseline_ref, float)]

    def statistic(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        medians = [np.median(x, axis=axis) for x in xs]
        ratio = medians[0] / medians[1]
        return ratio / (medians[2] / medians[3]) if len(medians) == 4 else ratio

    if all(np.ptp(x) == 0 for x in samples):  # nothing to resample: the interval is a point
        point = float(statistic(*samples))
        return point, point
    result = stats.bootstrap(
        samples, statistic, n_resamples=RESAMPLES, confidence_level=confidence,
        method="percentile", vectorized=True, paired=False, rng=np.random.default_rng(SEED),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_ratio(
    current: Sequence[float],
    baseline: Sequence[float],
    current_ref: Sequence[float] | None = None,
    baseline_ref: Sequence[float] | None = None,
    confidence: float = 0.95,
) -> tuple[float, tuple[float, float], float, float]:
    """Ratio, interval and one-sided p-values (slower, faster) of rounds measured in lockstep.

    Round ``r`` of all four series ran within a second or two, so its ratio
    ``(current/current_ref) / (baseline/baseline_ref)`` is free of the machine's speed at that
    moment; the ratio is the geometric median over rounds, the test the Wilcoxon signed-rank
    test on their logarithms, the interval a bootstrap of that median.
    """
    logs = np.log(np.asarray(current, float)) - np.log(np.asarray(baseline, float))
    if current_ref is not None and baseline_ref is not None:
        logs -= np.log(np.asarray(current_ref, float)) - np.log(np.asarray(baseline_ref, float))
    ratio = float(np.exp(np.median(logs)))
    if np.ptp(logs) == 0:
        return ratio, (ratio, ratio), (0.0 if logs[0] > 0 else 1.0), (0.0 if logs[0] < 0 else 1.0)
    slower = float(stats.wilcoxon(logs, alternative="greater").pvalue)
    faster = float(stats.wilcoxon(logs, alternative="less").pvalue)
    result = stats.bootstrap((logs,), np.median, n_resamples=RESAMPLES,
                             confidence_level=confidence, method="percentile",
                             rng=np.random.default_rng(SEED))
    interval = (float(np.exp(result.confidence_interval.low)),
                float(np.exp(result.confidence_interval.high)))
    return ratio, interval, slower, faster
