"""The speed suite's pytest plugin (entry point ``pytest11``: loaded wherever rnnbench is
installed, inert in a session that collects no ``bench_case``).

Options: ``--rnnbench-profile {quick,full}``, ``--rnnbench-device``/``--rnnbench-dtype``
filters (repeatable) and ``--rnnbench-threads N`` (default: torch's own choice; recorded
either way). The suite's ``addopts`` save raw timings (``--benchmark-save-data``), since the
regression gate tests significance on them.

What the terminal shows: one line per case, ``[k/N]``, its median and an estimate of the time
left (the line starts before the case runs, so a long case is named while it runs); CUDA
cases are not collected where CUDA is missing (asking for them with ``--rnnbench-device=cuda``
is a usage error there); the run ends with a short summary (custom/native ratio per shape,
noisy cases, the file written, the machine and its load average). The situations that
pytest-benchmark reports with a warning or a traceback (nothing to save, nothing to compare
with, a ``--benchmark-compare-fail`` regression, a histogram without pygal, a
``--benchmark-json`` folder that does not exist) end with one clear line instead.

Only pytest-benchmark's public hooks and options are used, and the ``benchmark`` fixture's
documented ``stats``, ``extra_info`` and ``fullname``; the one version difference (the type
of ``--benchmark-json``'s value) sits in :func:`json_target`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rnnbench.bench import grid, machine, results, summary
from rnnbench.bench.grid import Case
from rnnbench.model.build import IMPL_NAMES


@dataclass(frozen=True)
class Timed:
    """One timed case, as the summary needs it."""

    fullname: str
    case: str
    shape_key: str
    impl: str
    median: float
    iqr: float


@dataclass
class Session:
    """What the plugin learns during a session."""

    started: float
    load_start: float | None
    not_collected: list[str] = field(default_factory=list)
    timed: list[Timed] = field(default_factory=list)
    compared: list[dict[str, Any]] = field(default_factory=list)  # saved runs compared with
    cases: dict[str, Case] = field(default_factory=dict)  # nodeid -> case, in run order
    session: pytest.Session | None = None


_RUN = pytest.StashKey[Session]()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted: expected a positive integer")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rnnbench", "rnnbench speed suite")
    group.addoption("--rnnbench-profile", choices=tuple(grid.PROFILES), default="quick",
                    help="which grid to run: quick (CI, default) or full (the sweep)")
    group.addoption("--rnnbench-device", choices=grid.DEVICES, action="append",
                    help="only cases on this device (repeatable; default: all, but CUDA cases "
                         "are not collected without CUDA)")
    group.addoption("--rnnbench-dtype", choices=tuple(grid.DTYPES), action="append",
                    help="only cases of this dtype (repeatable; default: all)")
    group.addoption("--rnnbench-threads", type=_positive_int, metavar="N",
                    help="CPU threads for the whole run (default: torch's default)")


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config: pytest.Config) -> None:
    import torch

    threads = config.getoption("rnnbench_threads", None)
    if threads:
        torch.set_num_threads(threads)
    _sort_by_the_shown_column(config)
    _own_words_for_warnings(config)
    reason = _no_cuda()
    if "cuda" in (config.getoption("rnnbench_device") or ()) and reason:
        raise pytest.UsageError(
            f"--rnnbench-device=cuda is not accepted here: {reason}. On this machine run the "
            "CPU cases (pytest benchmarks); for the CUDA build of torch see the README")
    if config.getoption("benchmark_histogram", None) and not importlib.util.find_spec("pygal"):
        raise pytest.UsageError("--benchmark-histogram needs pygal, which is not installed: "
                                "pip install 'pytest-benchmark[histogram]'")
    target = json_target(config.getoption("benchmark_json", None))
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)  # before timing, not after it
    config.stash[_RUN] = Session(time.monotonic(), machine.load_average())


def _own_words_for_warnings(config: pytest.Config) -> None:
    """pytest-benchmark's warnings are shown, not raised by filterwarnings=error (the compared
    run's machine_info differs: a fact, not a crash); two are said in our own words instead
    (:func:`pytest_sessionstart`, the summary). The filters go both into the warnings that
    pytest keeps for configuration and the session's end, and into those of each test."""
    from pytest_benchmark.logger import PytestBenchmarkWarning

    warnings.filterwarnings("default", category=PytestBenchmarkWarning)
    config.addinivalue_line("filterwarnings",
                            "default::pytest_benchmark.logger.PytestBenchmarkWarning")
    for said in ("Can't compare", "Not saving anything"):
        warnings.filterwarnings("ignore", said, PytestBenchmarkWarning)


def _sort_by_the_shown_column(config: pytest.Config) -> None:
    """Tables sorted by ``min`` (pytest-benchmark's default) while showing only the median look
    shuffled: unless ``--benchmark-sort`` was given, sort by the median the table shows."""
    given = any(arg.startswith("--benchmark-sort") for arg in config.invocation_params.args)
    columns = config.getoption("benchmark_columns", None) or []
    if not given and "min" not in columns and "median" in columns:
        config.option.benchmark_sort = "median"


def json_target(value: Any) -> Path | None:
    """``--benchmark-json``'s file: a path since pytest-benchmark 5.3, an open file before."""
    if value is None:
        return None
    return Path(value if isinstance(value, (str, os.PathLike)) else value.name)


def _no_cuda() -> str | None:
    """Why CUDA cases cannot run here, or None when they can."""
    import torch

    if torch.cuda.is_available():
        return None
    return f"CUDA is not available (torch {torch.__version__})"


def _devices(config: pytest.Config) -> list[str]:
    devices = config.getoption("rnnbench_device") or list(grid.DEVICES)
    return [d for d in devices if d != "cuda" or not _no_cuda()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_case" in metafunc.fixturenames:
        config = metafunc.config
        profile, dtypes = config.getoption("rnnbench_profile"), config.getoption("rnnbench_dtype")
        cases = grid.cases(profile, _devices(config), dtypes)
        if "cuda" not in _devices(config) and not config.getoption("rnnbench_device"):
            dropped = len(grid.cases(profile, ["cuda"], dtypes))
            if dropped:
                config.stash[_RUN].not_collected.append(f"{dropped} CUDA cases: {_no_cuda()}")
        metafunc.parametrize("bench_case", cases, ids=[case.id for case in cases])


@pytest.hookimpl(trylast=True)  # after -k, -m and the suite's own deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash.get(_RUN, None)
    if run is None:
        return
    for item in items:
        case = getattr(item, "callspec", None) and item.callspec.params.get("bench_case")
        if isinstance(case, Case):
            run.cases[item.nodeid] = case


def not_collected(config: pytest.Config, what: str) -> None:
    """Lists ``what`` under "not collected" in the summary (for a suite's own deselection)."""
    run = config.stash.get(_RUN, None)
    if run is not None:
        run.not_collected.append(what)


def _progress_wanted(config: pytest.Config) -> bool:
    """One line per case replaces pytest's dots when timing without -v."""
    return config.getoption("verbose") <= 0 and not config.getoption("benchmark_disable", False)


#: T*B*layers*directions of a case that takes about ten times a short one on a small CPU:
#: about half a second a call at T=800, B=64, times warm-up, rounds and the profiled call.
LONG_CASE_WORK = 800 * 64


def _weight(case: Case) -> float:
    """A case's expected share of the run, for the estimate: pytest-benchmark spends about
    its ``max_time`` on a short case, and a long one costs in proportion to its work."""
    if case.device != "cpu":
        return 1.0
    work = case.T * case.B * case.num_layers * (2 if case.bidirectional else 1)
    return 1.0 + 8.0 * work / LONG_CASE_WORK


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """No dot for a case: the progress line says how it went."""
    run = config.stash.get(_RUN, None)
    ours = run is not None and report.nodeid in run.cases and _progress_wanted(config)
    if ours and (report.when == "call" or report.skipped):
        return report.outcome, "", ""
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keeps what the summary needs of each timed case (the fixture's public attributes)."""
    report = yield
    run = item.config.stash.get(_RUN, None)
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    if run is not None and call.when == "call" and getattr(fixture, "stats", None):
        info, stats = fixture.extra_info, fixture.stats.stats
        if "shape_key" in info:
            run.timed.append(Timed(fixture.fullname, info["case"], info["shape_key"],
                                   info["impl"], stats.median, stats.iqr))
    return report


class _Progress:
    """Writes ``[k/N] case  median  elapsed, ~left`` per case, in at most 100 columns."""

    def __init__(self, config: pytest.Config, run: Session) -> None:
        self.config, self.run = config, run
        self.done: set[str] = set()

    # A case's line is begun when it starts (so a long case is named while it runs) and ended
    # by its outcome; each begins with its newline, so that pytest's own line (the file name,
    # written once) and its closing progress mark stay where they belong.
    @pytest.hookimpl(trylast=True)  # after pytest has written the file name
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        case = self.run.cases.get(nodeid)
        reporter = self._reporter()
        if case is not None and reporter is not None:
            reporter.write(f"\n{self._counter()} {case.id:<49} ")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = self.run.cases.get(report.nodeid)
        reporter = self._reporter()
        finished = report.when == "call" or (report.when == "setup" and not report.passed)
        if case is None or reporter is None or not finished or report.nodeid in self.done:
            return
        self.done.add(report.nodeid)
        timed = next((t for t in reversed(self.run.timed) if t.case == case.id), None)
        if report.skipped:
            what = "skipped"
        elif report.failed:
            what = "FAILED"
        else:
            what = f"{timed.median * 1e3:9.2f} ms" if timed else "passed"
        reporter.write(f"{what}  {self._eta()}")

    def _counter(self) -> str:
        total = len(self.run.cases)
        return f"[{len(self.done) + 1:>{len(str(total))}}/{total}]"

    def _eta(self) -> str:
        elapsed = time.monotonic() - self.run.started
        weights = {nodeid: _weight(case) for nodeid, case in self.run.cases.items()}
        done = sum(weights[n] for n in self.done)
        left = sum(weights.values()) - done
        if not done or not left:
            return f"{_duration(elapsed)}"
        return f"{_duration(elapsed)}, ~{_duration(elapsed * left / done)} left"

    def _reporter(self) -> Any:
        if not _progress_wanted(self.config):
            return None
        return self.config.pluginmanager.get_plugin("terminalreporter")


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def pytest_benchmark_update_machine_info(config: pytest.Config,
                                         machine_info: dict[str, Any]) -> None:
    run = config.stash.get(_RUN, None)
    if run is None:
        return
    cpu = machine_info.get("cpu")
    cpu_model = cpu.get("brand_raw") if isinstance(cpu, dict) else None
    machine_info.update(machine.machine_info(_devices(config), cpu_model))
    machine_info["rnnbench_profile"] = config.getoption("rnnbench_profile")
    machine_info[machine.LOAD] = machine.load_info(run.load_start, machine.load_average())


@pytest.hookimpl(wrapper=True)
def pytest_benchmark_compare_machine_info(config: pytest.Config, benchmarksession: Any,
                                          machine_info: dict[str, Any],
                                          compared_benchmark: dict[str, Any]) -> Any:
    """Refuses results of another device; ignores readings that vary on one machine."""
    saved = compared_benchmark.get("machine_info") or {}
    try:
        machine.check_comparable(machine_info, saved)
    except ValueError as error:
        raise pytest.UsageError(f"--benchmark-compare: {error}") from None
    for info in (machine_info, saved):
        machine.drop_volatile(info)
    run = config.stash.get(_RUN, None)
    if run is not None:
        run.compared.append(compared_benchmark)
    return (yield)


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any,
                                 output_json: dict[str, Any]) -> None:
    run = config.stash.get(_RUN, None)
    if run is None or not run.cases:  # another project's benchmarks
        return
    output_json["rnnbench"] = {
        "profile": config.getoption("rnnbench_profile"),
        "wall_s": time.monotonic() - run.started,
        # Non-zero: interrupted or failed; such a run is never accepted as a baseline.
        "exitstatus": int(run.session.exitstatus) if run.session is not None else None,
    }


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    run = config.stash.get(_RUN, None)
    if run is None:
        return
    run.session = session
    config.pluginmanager.register(_Progress(config, run), "rnnbench-progress")
    compare = config.getoption("benchmark_compare", None)
    if compare and not run.compared:  # pytest-benchmark found no saved run to load
        which = "" if compare is True else f" matching {compare!r}"
        raise pytest.UsageError(
            f"--benchmark-compare: no saved run{which} in {_storage(config) or 'the storage'} "
            "to compare with; save one first with: pytest benchmarks --benchmark-autosave")


def _storage(config: pytest.Config) -> Path | None:
    """The folder of ``--benchmark-storage`` (None for a storage that is not a folder)."""
    storage = str(config.getoption("benchmark_storage", "") or "")
    if "://" in storage and not storage.startswith("file://"):
        return None
    return Path(storage.removeprefix("file://"))


def _wanted_files(config: pytest.Config) -> list[str]:
    """The options that ask for result files."""
    target = json_target(config.getoption("benchmark_json", None))
    wanted = [f"--benchmark-json={target}"] if target else []
    if config.getoption("benchmark_save", None):
        wanted.append("--benchmark-save")
    elif config.getoption("benchmark_autosave", None):
        wanted.append("--benchmark-autosave")
    return wanted


def _nothing_saved(config: pytest.Config, run: Session) -> str | None:
    """When nothing was timed, nothing was written: says so, and removes the empty file that
    pytest-benchmark before 5.3 created when it read ``--benchmark-json``."""
    wanted = _wanted_files(config)
    if run.timed or not wanted or config.getoption("benchmark_disable", False):
        return None
    value = config.getoption("benchmark_json", None)
    if hasattr(value, "close"):
        value.close()
        path = Path(value.name)
        if path.exists() and path.stat().st_size == 0:
            path.unlink()
    return f"no case was timed, so nothing was saved ({', '.join(wanted)})"


@pytest.hookimpl(wrapper=True, trylast=True)  # below pytest-benchmark's tables
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> Any:
    from pytest_benchmark.session import PerformanceRegression

    regressed = False
    try:
        result = yield
    except PerformanceRegression:  # pytest-benchmark has listed the regressions above
        regressed, result = True, None
    run = config.stash.get(_RUN, None)
    if run is not None:
        _summary(terminalreporter, config, run)
        if regressed:
            terminalreporter.write_line(
                "--benchmark-compare-fail: performance regressed (listed above); exit 1",
                red=True, bold=True)
            if run.session is not None:
                run.session.exitstatus = pytest.ExitCode.TESTS_FAILED
    return result


def _summary(reporter: Any, config: pytest.Config, run: Session) -> None:
    nothing_saved = _nothing_saved(config, run)
    if not (run.timed or run.not_collected or nothing_saved):
        return
    write = reporter.write_line
    reporter.ensure_newline()
    reporter.section("rnnbench summary", sep="-")
    lines = ratio_lines(run.timed)
    if lines:
        write("custom/native median time per shape (below 1.00x the custom loop is faster):")
        for line in lines:
            write(f"  {line}")
    for line in compare_lines(run.timed, run.compared):
        write(line)
    for path in _written(config, run):
        write(f"results: {path}")
        write(f"  readable report: rnnbench report {path} --out runs/my-report")
    if nothing_saved:
        write(nothing_saved)
    if run.timed:
        import torch

        load = machine.load_info(run.load_start, machine.load_average())
        write(f"machine: {machine.cpu_model()}, torch {torch.__version__}, "
              f"threads {load['threads']} of {load['cpu_count']} cores; load average (1 min) "
              f"{_fmt(load['start'])} at start, {_fmt(load['end'])} at end")
        warning = machine.load_warning(load)
        if warning:
            write(f"WARNING: {warning}", yellow=True, bold=True)
        for line in summary.noise_lines(((t.case, t.median, t.iqr) for t in run.timed), load):
            write(line, yellow=True)
    for line in run.not_collected:
        write(f"not collected: {line}")


def ratio_lines(timed: list[Timed]) -> list[str]:
    """Per shape with a native case: native's median and each custom impl's ratio to it."""
    shapes: dict[str, dict[str, float]] = {one.shape_key: {} for one in timed}
    native: dict[str, float] = {}
    for custom, reference, ratio in results.versus_native(timed):
        shapes[custom.shape_key][custom.impl] = ratio
        native[custom.shape_key] = reference.median
    width = max(map(len, shapes), default=0)
    return [f"{shape:<{width}}  native {native[shape] * 1e3:8.2f} ms  "
            + "  ".join(f"{impl} {ratios[impl]:.2f}x" for impl in IMPL_NAMES if impl in ratios)
            for shape, ratios in shapes.items() if ratios]


def compare_lines(timed: list[Timed], compared: list[dict[str, Any]]) -> list[str]:
    """With --benchmark-compare: each case's median now against the saved run's."""
    lines = []
    for saved in compared:
        medians = {b.get("fullname"): (b.get("stats") or {}).get("median")
                   for b in saved.get("benchmarks") or ()}
        rows = [(one.median / medians[one.fullname] - 1, one.case, medians[one.fullname],
                 one.median) for one in timed if medians.get(one.fullname)]
        if rows:
            commit = (saved.get("commit_info") or {}).get("id") or "?"
            lines.append(f"change of median against the run saved {saved.get('datetime', '?')} "
                         f"(commit {commit[:10]}; + is slower):")
            width = max(len(row[1]) for row in rows)
            lines += [f"  {case:<{width}}  {then * 1e3:8.2f} -> {now * 1e3:8.2f} ms  "
                      f"{change:+6.1%}" for change, case, then, now in sorted(rows)]
    return lines


def _written(config: pytest.Config, run: Session) -> list[str]:
    """The result files this run wrote: --benchmark-json's and the saved run (the newest file
    in the storage, which is where pytest-benchmark has just saved it)."""
    if not run.timed:
        return []
    paths = []
    target = json_target(config.getoption("benchmark_json", None))
    if target is not None and target.exists():
        paths.append(target)
    folder = _storage(config)
    saving = config.getoption("benchmark_save", None) or config.getoption("benchmark_autosave",
                                                                           None)
    if saving and folder is not None and folder.is_dir():
        saved = sorted(folder.glob("*/*.json"), key=lambda path: path.stat().st_mtime)
        paths += saved[-1:]
    return [_relative(path) for path in paths]


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _fmt(load: float | None) -> str:
    return "?" if load is None else f"{load:.2f}"
