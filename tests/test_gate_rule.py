"""The decision rule: real slowdowns fail, machine speed, drift and outliers do not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_gate_synthetic import document, entry, suite, timings

from rnnbench.gate import Rule, compare
from rnnbench.gate.compare import UnusableInput, parse_run


def judge(base: dict, now: dict, allow_missing: bool = False, **rule: object):
    return compare(parse_run(base, "base.json", "baseline"), parse_run(now, "now.json"),
                   Rule(**rule), allow_missing=allow_missing)


def verdict(comparison, case: str):
    return next(v for v in comparison.verdicts if v.case == case)


def test_self_comparison_passes() -> None:
    run = suite()
    result = judge(run, run)
    assert not result.regressions
    assert all(v.ratio == 1 for v in result.verdicts)


def test_a_real_slowdown_fails_and_names_the_case() -> None:
    result = judge(suite(eager_ms=47), suite(eager_ms=47 * 1.5, seed=7))
    assert [v.case for v in result.regressions] == ["lstm-eager"]
    eager = verdict(result, "lstm-eager")
    assert eager.reference == "lstm-native"
    assert eager.ratio == pytest.approx(1.5, rel=0.05)
    assert eager.interval[0] < eager.ratio < eager.interval[1]
    assert eager.timing_regressed and eager.p_slower < 1e-6


@given(factor=st.floats(0.3, 3.0), seed=st.integers(0, 1000))
def test_a_uniformly_faster_or_slower_machine_is_no_regression(factor: float, seed: int) -> None:
    result = judge(suite(), suite(native_ms=40 * factor, eager_ms=47 * factor, seed=seed))
    assert not result.regressions
    assert result.machine_factor == pytest.approx(factor, rel=0.1)


@given(slowdown=st.floats(1.35, 4.0), factor=st.floats(0.5, 2.0), seed=st.integers(0, 1000))
def test_a_slowdown_shows_through_any_machine_speed(slowdown, factor, seed) -> None:
    now = suite(native_ms=40 * factor, eager_ms=47 * factor * slowdown, seed=seed)
    result = judge(suite(), now)
    assert [v.case for v in result.regressions] == ["lstm-eager"]


def test_a_small_significant_change_is_below_the_effect_size() -> None:
    result = judge(suite(spread=0.005), suite(eager_ms=47 * 1.08, spread=0.005, seed=3))
    eager = verdict(result, "lstm-eager")
    assert eager.p_slower < 1e-6  # clearly different ...
    assert not eager.regressed  # ... but not by enough to fail CI


def test_a_run_with_too_few_rounds_for_any_significance_is_refused_by_name() -> None:
    with pytest.raises(UnusableInput, match=r"\(lstm-native\) has 3 timing round.*fewer than 5"):
        judge(suite(rounds=3), suite(rounds=3, seed=3))


def test_a_large_change_on_few_rounds_is_not_significant() -> None:
    noisy = {"spread": 0.4, "rounds": 5}
    result = judge(suite(**noisy), suite(eager_ms=47 * 1.3, seed=3, **noisy))
    eager = verdict(result, "lstm-eager")
    assert eager.ratio > 1.2 and eager.p_slower > 0.01 and not eager.regressed


def test_a_few_disturbed_rounds_do_not_fail() -> None:
    now = suite(seed=5)
    data = now["benchmarks"][1]["stats"]["data"]
    data[3:7] = [t * 5 for t in data[3:7]]  # another process took the CPU for 4 of 20 rounds
    assert not judge(suite(), now).regressions


def test_native_cases_are_report_only_unless_asked() -> None:
    base, now = suite(), suite(native_ms=80, eager_ms=94, seed=2)  # everything 2x slower
    native = verdict(judge(base, now), "lstm-native")
    assert native.reference is None and native.ratio == pytest.approx(2, rel=0.05)
    assert native.status == "report-only" and not native.regressed
    assert verdict(judge(base, now, raw_min_ratio=1.5), "lstm-native").regressed


def test_without_a_native_case_in_both_runs_times_are_raw() -> None:
    base = document(entry("lstm-eager", timings(47)))
    now = suite(eager_ms=47 * 1.5)
    eager = verdict(judge(base, now), "lstm-eager")
    assert eager.reference is None and not eager.gated and not eager.regressed
    assert verdict(judge(base, now, raw_min_ratio=1.3), "lstm-eager").regressed


def test_only_the_native_case_of_the_same_shape_is_the_reference() -> None:
    def run(eager_ms: float, seed: int) -> dict:
        return document(
            entry("lstm-native-T100", timings(40, seed=seed), impl="native"),
            entry("lstm-native-T200", timings(80, seed=seed + 1), impl="native", T=200),
            entry("lstm-eager-T100", timings(eager_ms, seed=seed + 2)),
        )

    eager = verdict(judge(run(47, 0), run(47 * 1.5, 9)), "lstm-eager-T100")
    assert eager.reference == "lstm-native-T100" and eager.regressed


def test_added_cases_are_reported_not_failed() -> None:
    now = document(*suite()["benchmarks"], entry("lstm-script", timings(48)))
    result = judge(suite(), now)
    assert result.added == ("lstm-script",) and not result.regressions


def test_a_run_missing_baseline_cases_is_unusable_unless_a_subset_is_allowed() -> None:
    base = document(*suite()["benchmarks"], entry("gru-eager", timings(40)))
    with pytest.raises(UnusableInput, match=r"lacks 1 case.*gru-eager.*--allow-missing"):
        judge(base, suite())
    assert judge(base, suite(), allow_missing=True).removed == ("gru-eager",)


def test_a_run_missing_the_native_reference_is_unusable() -> None:
    """Without its reference every custom case would be report-only: a silent pass."""
    now = document(suite(eager_ms=47 * 3)["benchmarks"][1])  # the eager case alone
    with pytest.raises(UnusableInput, match=r"lacks 1 case.*lstm-native"):
        judge(suite(), now)


def test_an_interrupted_run_says_so() -> None:
    now = document(suite()["benchmarks"][1])
    now["rnnbench"]["exitstatus"] = 2
    with pytest.raises(UnusableInput, match="exit status 2: interrupted"):
        judge(suite(), now)


def test_a_faster_case_is_reported_as_faster() -> None:
    eager = verdict(judge(suite(), suite(eager_ms=47 / 1.5, seed=4)), "lstm-eager")
    assert eager.status == "faster" and not eager.regressed


@pytest.mark.parametrize("signal", ["aten_ops"])
def test_any_growth_of_an_exact_count_fails_whatever_the_timings(signal: str) -> None:
    result = judge(suite(**{signal: 1000}), suite(seed=8, **{signal: 1001}))
    eager = verdict(result, "lstm-eager")
    assert eager.regressed and eager.signal_regressed and not eager.timing_regressed
    assert [c.name for c in eager.signals] == [signal]


def test_a_native_case_s_counts_are_reported_never_failed() -> None:
    """Native counts are PyTorch's (and its packed path's count follows the lengths drawn)."""
    def run(ops: int, memory: int) -> dict:
        document = suite(aten_ops=1000)
        document["benchmarks"][0]["extra_info"].update(aten_ops=ops, peak_memory_bytes=memory)
        return document

    native = verdict(judge(run(1000, 10**6), run(1100, 2 * 10**6)), "lstm-native")
    assert not native.regressed and native.status == "report-only"
    assert sorted(c.name for c in native.signals) == ["aten_ops", "peak_memory_bytes"]


def test_a_shrinking_count_is_no_regression() -> None:
    eager = verdict(judge(suite(aten_ops=1000), suite(aten_ops=900)), "lstm-eager")
    assert not eager.regressed and eager.signals[0].ratio == 0.9


def test_flops_are_computed_from_the_shape_and_not_gated() -> None:
    assert not judge(suite(flops=1000), suite(flops=2000)).regressions


def test_peak_memory_has_a_small_tolerance() -> None:
    base = suite(peak_memory_bytes=1_000_000)
    assert not judge(base, suite(peak_memory_bytes=1_010_000)).regressions
    assert judge(base, suite(peak_memory_bytes=1_100_000)).regressions


def test_signals_can_be_ignored() -> None:
    assert not judge(suite(aten_ops=1), suite(aten_ops=2), check_signals=False).regressions


def test_a_count_recorded_in_one_run_only_is_ignored() -> None:
    assert not judge(suite(aten_ops=1000), suite()).regressions


def test_differing_library_versions_are_noted() -> None:
    result = judge(suite(torch="2.12.0", threads=2), suite(torch="2.13.0", threads=2))
    assert result.notes == ("torch differs: baseline 2.12.0, current 2.13.0",)


def test_a_disturbance_that_does_not_reproduce_is_no_regression() -> None:
    base, now = parse_run(suite(), "b", "baseline"), parse_run(suite(eager_ms=70, seed=1), "n")
    assert compare(base, now).suspects == ("lstm-eager", "lstm-native")
    calm = parse_run(suite(seed=2), "rerun")
    result = compare(base, now, confirm=[calm])
    eager = verdict(result, "lstm-eager")
    assert not result.regressions and eager.runs == 2 and eager.ratio < 1.1


def test_a_real_slowdown_reproduces_in_every_rerun() -> None:
    base = parse_run(suite(), "b", "baseline")
    runs = [parse_run(suite(eager_ms=70, seed=s), f"run{s}") for s in (1, 2, 3)]
    result = compare(base, runs[0], confirm=runs[1:])
    assert [(v.case, v.runs) for v in result.regressions] == [("lstm-eager", 3)]


def test_reruns_of_part_of_the_cases_leave_the_others_alone() -> None:
    base = parse_run(document(*suite()["benchmarks"], entry("gru-x", timings(40))), "b")
    now = parse_run(document(*suite()["benchmarks"], entry("gru-x", timings(40))), "n")
    result = compare(base, now, confirm=[parse_run(suite(seed=4), "rerun")])
    assert verdict(result, "gru-x").runs == 1 and verdict(result, "lstm-eager").runs == 2


def _lockstep(eager_factor: float, speeds: list[float], seed: int) -> dict:
    """A lockstep (A/B) run: round r of every case ran at the machine's speed ``speeds[r]``."""
    rng = np.random.default_rng(seed)
    noise = rng.lognormal(0, 0.01, (2, len(speeds)))
    native = [40e-3 * s * n for s, n in zip(speeds, noise[0], strict=True)]
    eager = [47e-3 * eager_factor * s * n for s, n in zip(speeds, noise[1], strict=True)]
    run = document(entry("lstm-native", native, impl="native"), entry("lstm-eager", eager))
    run["rnnbench"]["runner"] = "lockstep"
    return run


def test_lockstep_rounds_are_judged_paired_through_a_wandering_machine() -> None:
    """The machine's speed wanders by +-30 % from round to round, alike on both sides of each
    round: the paired test sees through it, in both directions."""
    speeds = list(np.random.default_rng(7).uniform(0.7, 1.3, 10))
    unchanged = judge(_lockstep(1.0, speeds, 1), _lockstep(1.0, speeds, 2), min_ratio=1.05)
    slowed = judge(_lockstep(1.0, speeds, 1), _lockstep(1.1, speeds, 3), min_ratio=1.05)
    assert not unchanged.regressions
    eager = verdict(slowed, "lstm-eager")
    assert eager.regressed and eager.ratio == pytest.approx(1.1, rel=0.02)
    assert eager.test == "Wilcoxon signed-rank, paired rounds" and eager.p_slower < 0.01


def test_paired_rounds_of_one_slow_worker_process_are_no_slowdown() -> None:
    """Half the rounds from a process that is slow for its whole life: significantly above 1,
    but not above the minimum effect, so no slowdown; a real 1.15x in every round is one."""
    from rnnbench.gate import stats

    baseline = [1.0] * 8
    one_slow_process = [1.01, 1.3, 1.02, 1.32, 1.005, 1.28, 1.03, 1.31]
    assert stats.paired_ratio(one_slow_process, baseline)[2] < 0.01
    assert stats.paired_ratio(one_slow_process, baseline, above=1.05)[2] > 0.05
    slower = [1.15, 1.16, 1.14, 1.17, 1.15, 1.13, 1.16, 1.15]
    assert stats.paired_ratio(slower, baseline, above=1.05)[2] < 0.01
