"""The statistics behind a timing verdict: the ratio of a case's time now to its time in the
baseline, a bootstrap interval of it, and one-sided p-values for "slower" and "faster".

Both functions work on raw per-round timings, not on summaries, because a summary cannot say
whether a difference is larger than the run-to-run noise. ``current_ref`` and
``baseline_ref`` are the rounds of the native case of the same shape in each run (or None).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

#: Resamples of the bootstrap interval; the seed makes the interval reproducible.
RESAMPLES, SEED, CONFIDENCE = 2000, 0, 0.95

Judged = tuple[float, tuple[float, float], float, float]  # ratio, interval, p_slower, p_faster


def unpaired_ratio(current: Sequence[float], baseline: Sequence[float],
                   current_ref: Sequence[float] | None = None,
                   baseline_ref: Sequence[float] | None = None) -> Judged:
    """Rounds of two separate runs.

    The ratio is ``median(current) / median(baseline)``, each first divided by its run's
    reference median. The p-values are the one-sided Mann–Whitney U test of the normalised
    rounds: rank based, so a few rounds disturbed by another process cannot carry the decision,
    and free of any assumed distribution (timings are skewed to the right). The interval is a
    percentile bootstrap in which each sample (the case and its reference, in both runs) is
    resampled on its own, so it carries the noise of the reference too.
    """
    samples = [np.asarray(x, float) for x in (current, baseline, current_ref, baseline_ref)
               if x is not None]
    scales = [float(np.median(x)) for x in samples[2:]] or [1.0, 1.0]
    now, then = samples[0] / scales[0], samples[1] / scales[1]
    slower = float(stats.mannwhitneyu(now, then, alternative="greater").pvalue)
    faster = float(stats.mannwhitneyu(then, now, alternative="greater").pvalue)

    def statistic(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        medians = [np.median(x, axis=axis) for x in xs]
        ratio = medians[0] / medians[1]
        return ratio / (medians[2] / medians[3]) if len(medians) == 4 else ratio

    ratio = float(statistic(*samples))
    if all(np.ptp(x) == 0 for x in samples):  # nothing to resample: the interval is a point
        return ratio, (ratio, ratio), slower, faster
    result = stats.bootstrap(
        samples, statistic, n_resamples=RESAMPLES, confidence_level=CONFIDENCE,
        method="percentile", vectorized=True, paired=False, rng=np.random.default_rng(SEED),
    )
    interval = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return ratio, interval, slower, faster


def paired_ratio(current: Sequence[float], baseline: Sequence[float],
                 current_ref: Sequence[float] | None = None,
                 baseline_ref: Sequence[float] | None = None, above: float = 1.0) -> Judged:
    """Rounds measured in lockstep (A/B mode).

    Round ``r`` of all four series ran within a second or two, so its ratio
    ``(current/current_ref) / (baseline/baseline_ref)`` is free of the machine's speed at that
    moment; the ratio is the geometric median over rounds, the tests the Wilcoxon signed-rank
    test on their logarithms, the interval a bootstrap of that median.

    "Slower" is tested against ``above`` (the gate's minimum effect), not against 1: the rounds
    come from a few worker processes, and one process can be slow for its whole life, so the
    rounds it timed can make a ratio significantly above 1 on unchanged code; only a ratio
    significantly above the minimum effect itself is a slowdown.
    """
    logs = np.log(np.asarray(current, float)) - np.log(np.asarray(baseline, float))
    if current_ref is not None and baseline_ref is not None:
        logs -= np.log(np.asarray(current_ref, float)) - np.log(np.asarray(baseline_ref, float))
    ratio = float(np.exp(np.median(logs)))
    excess = logs - np.log(above)
    if np.ptp(logs) == 0:
        return ratio, (ratio, ratio), (0.0 if excess[0] > 0 else 1.0), (
            0.0 if logs[0] < 0 else 1.0)
    slower = float(stats.wilcoxon(excess, alternative="greater").pvalue)
    faster = float(stats.wilcoxon(logs, alternative="less").pvalue)
    result = stats.bootstrap((logs,), np.median, n_resamples=RESAMPLES,
                             confidence_level=CONFIDENCE, method="percentile",
                             rng=np.random.default_rng(SEED))
    interval = (float(np.exp(result.confidence_interval.low)),
                float(np.exp(result.confidence_interval.high)))
    return ratio, interval, slower, faster
