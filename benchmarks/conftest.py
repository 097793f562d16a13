"""pytest side of the speed suite: grid options, the ``bench_case`` parameter, and the
pytest-benchmark hooks that describe the machine and guard comparisons.

Options: ``--rnnbench-profile {quick,full}``, ``--rnnbench-device``/``--rnnbench-dtype``
filters (repeatable) and ``--rnnbench-threads N`` (default: torch's own choice; recorded
either way). Raw timings are always saved (``--benchmark-save-data`` is switched on), since
the regression gate tests significance on them.

What the terminal shows: CUDA cases are not collected where CUDA is missing (asking for them
with ``--rnnbench-device=cuda`` is a usage error there), nor the ``slow`` convergence cases
unless a ``-m`` expression is given; a case that may run for a minute (T=800) prints its id
before it starts; the run ends with a short summary (custom/native ratio per shape, the file
written, the machine and its load average). Situations that pytest-benchmark reports with a warning
(nothing to save, nothing to compare with) end with one clear line instead.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from rnnbench.bench import grid, machine
from rnnbench.bench.grid import Case

HERE = Path(__file__).resolve().parent


@dataclass
class Run:
    """What the summary at the end of the run needs to know from its start."""

    load_start: float | None
    not_collected: list[str] = field(default_factory=list)
    long_cases: dict[str, str] = field(default_factory=dict)  # nodeid -> why it is long
    nothing_saved: str | None = None


_RUN = pytest.StashKey[Run]()


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


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    threads = config.getoption("rnnbench_threads", None)
    if threads:
        torch.set_num_threads(threads)
    # Before pytest-benchmark reads it: the gate needs every round's timing.
    config.option.benchmark_save_data = True
    # pytest-benchmark warns when the compared run's machine_info differs; with
    # filterwarnings=error that warning would crash --benchmark-compare instead of showing.
    config.addinivalue_line("filterwarnings",
                            "default::pytest_benchmark.logger.PytestBenchmarkWarning")
    if config.getoption("benchmark_compare", None):
        # Said once, as a usage error, in pytest_sessionstart instead.
        config.addinivalue_line(
            "filterwarnings", "ignore:Can't compare:pytest_benchmark.logger.PytestBenchmarkWarning")
    reason = _no_cuda()
    if "cuda" in (config.getoption("rnnbench_device") or ()) and reason:
        raise pytest.UsageError(
            f"--rnnbench-device=cuda is not accepted here: {reason}. On this machine run the "
            "CPU cases (pytest benchmarks); for the CUDA build of torch see the README")
    config.stash[_STARTED] = time.monotonic()
    config.stash[_RUN] = Run(machine.load_average())
    config.pluginmanager.register(LongCaseNotice(config), "rnnbench-long-case-notice")


_STARTED = pytest.StashKey[float]()


def _no_cuda() -> str | None:
    """Why CUDA cases cannot run here, or None when they can."""
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leaves out the ``slow`` convergence cases unless ``-m`` asks for marks; notes long cases."""
    run = config.stash.get(_RUN, None)
    if run is None:
        return
    ours = [item for item in items if HERE in item.path.parents]
    slow = [item for item in ours if item.get_closest_marker("slow")]
    if slow and not config.getoption("markexpr"):
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")
                    or HERE not in item.path.parents]
        run.not_collected.append(f"{len(slow)} convergence cases (minutes each): "
                                 "select them with -m slow")
    for item in ours:
        case = getattr(item, "callspec", None) and item.callspec.params.get("bench_case")
        why = _long(case) if isinstance(case, Case) else None
        if why:
            run.long_cases[item.nodeid] = why


#: Time steps x batch x layers x directions from which a CPU case may take a minute: about
#: half a second a call at T=800, B=64, one layer, times warm-up, rounds and the profiled call.
LONG_CASE_WORK = 800 * 64


def _long(case: Case) -> str | None:
    """Why a case may run for a minute or more on a small CPU machine (None: it will not)."""
    work = case.T * case.B * case.num_layers * (2 if case.bidirectional else 1)
    if case.device == "cpu" and work >= LONG_CASE_WORK:
        return f"T={case.T}, B={case.B}: may take a minute"
    return None


class LongCaseNotice:
    """Without -v, names a long case before it runs (with -v pytest names every case)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)  # after pytest has written the file name
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        why = self.config.stash[_RUN].long_cases.get(nodeid)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        quiet = self.config.get_verbosity() <= 0 and not self.config.option.benchmark_disable
        if why and reporter is not None and quiet:
            reporter.ensure_newline()
            reporter.write(f"{nodeid.partition('[')[2].rstrip(']')} ({why}) ")


def pytest_benchmark_update_machine_info(config: pytest.Config,
                                         machine_info: dict[str, Any]) -> None:
    cpu = machine_info.get("cpu")
    cpu_model = cpu.get("brand_raw") if isinstance(cpu, dict) else None
    machine_info.update(machine.machine_info(_devices(config), cpu_model))
    machine_info["rnnbench_profile"] = config.getoption("rnnbench_profile")
    run = config.stash.get(_RUN, None)
    machine_info[machine.LOAD] = machine.load_info(run and run.load_start,
                                                   machine.load_average())


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
    return (yield)


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any,
                                 output_json: dict[str, Any]) -> None:
    session = config.stash.get(_SESSION, None)
    output_json["rnnbench"] = {
        "profile": config.getoption("rnnbench_profile"),
        "wall_s": time.monotonic() - config.stash[_STARTED],
        # Non-zero: interrupted or failed; such a run is never accepted as a baseline.
        "exitstatus": int(session.exitstatus) if session is not None else None,
    }


_SESSION = pytest.StashKey[pytest.Session]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION] = session
    bench = getattr(session.config, "_benchmarksession", None)
    if bench is not None and bench.compare and not bench.compared_mapping:
        which = "" if bench.compare is True else f" matching {bench.compare!r}"
        raise pytest.UsageError(
            f"--benchmark-compare: no saved run{which} in {bench.storage} to compare with; "
            "save one first with: pytest benchmarks --benchmark-autosave")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Any:
    """When nothing was timed, saves nothing and says so (pytest-benchmark would warn)."""
    bench = getattr(session.config, "_benchmarksession", None)
    run = session.config.stash.get(_RUN, None)
    if bench is not None and run is not None and not bench.disabled:
        wanted = [f"--benchmark-json={bench.json.name}"] if bench.json else []
        if bench.save or bench.autosave:
            wanted.append("--benchmark-save" if bench.save else "--benchmark-autosave")
        if wanted and not any(bench.benchmarks):
            if bench.json:
                bench.json.close()
                _remove_if_empty(Path(bench.json.name))
            bench.json = bench.save = bench.autosave = None
            run.nothing_saved = f"no case was timed, so nothing was saved ({', '.join(wanted)})"
    return (yield)


def _remove_if_empty(path: Path) -> None:
    """argparse created the --benchmark-json file when it read the option; an empty one goes."""
    try:
        if path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass


@pytest.hookimpl(trylast=True)  # below pytest-benchmark's tables
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    run = config.stash.get(_RUN, None)
    bench = getattr(config, "_benchmarksession", None)
    if run is None or bench is None:
        return
    timed = [b for b in bench.benchmarks if b and "shape_key" in b.extra_info]
    if not (timed or run.not_collected or run.nothing_saved):
        return
    write = terminalreporter.write_line
    terminalreporter.ensure_newline()
    terminalreporter.section("rnnbench summary", sep="-")
    lines = ratio_lines(timed)
    if lines:
        write("custom/native median time per shape (below 1.00x the custom loop is faster):")
        for line in lines:
            write(f"  {line}")
    for line in compare_lines(timed, bench.compared_mapping or {}):
        write(line)
    for path in _written(bench):
        write(f"results: {path}")
        write(f"  readable report: rnnbench report {path} --out runs/my-report")
    if run.nothing_saved:
        write(run.nothing_saved)
    if timed:
        load = machine.load_info(run.load_start, machine.load_average())
        write(f"machine: {machine.cpu_model()}, torch {torch.__version__}, "
              f"threads {load['threads']} of {load['cpu_count']} cores; load average (1 min) "
              f"{_fmt(load['start'])} at start, {_fmt(load['end'])} at end")
        warning = machine.load_warning(load)
        if warning:
            write(f"WARNING: {warning}", yellow=True, bold=True)
    for line in run.not_collected:
        write(f"not collected: {line}")


def ratio_lines(timed: list[Any]) -> list[str]:
    """Per shape with a native case: native's median and each custom impl's ratio to it."""
    shapes: dict[str, dict[str, float]] = {}
    for bench in timed:
        info = bench.extra_info
        shapes.setdefault(info["shape_key"], {})[info["impl"]] = bench.stats.median
    width = max(map(len, shapes), default=0)
    lines = []
    for shape, medians in shapes.items():
        native = medians.get("native")
        if native is None or len(medians) < 2:
            continue
        ratios = "  ".join(f"{impl} {medians[impl] / native:.2f}x" for impl in grid.IMPLS
                           if impl in medians and impl != "native")
        lines.append(f"{shape:<{width}}  native {native * 1e3:8.2f} ms  {ratios}")
    return lines


def compare_lines(timed: list[Any], compared: dict[Any, dict[str, Any]]) -> list[str]:
    """With --benchmark-compare: each case's median now against the saved run's."""
    lines = []
    for path, saved in compared.items():
        rows = []
        for bench in timed:
            then = (saved.get(bench.fullname) or {}).get("stats", {}).get("median")
            if then:
                now = bench.stats.median
                rows.append((now / then - 1, bench.extra_info["case"], then, now))
        if rows:
            lines.append(f"change of median against {Path(path).name} (+ is slower):")
            width = max(len(row[1]) for row in rows)
            lines += [f"  {case:<{width}}  {then * 1e3:8.2f} -> {now * 1e3:8.2f} ms  "
                      f"{change:+6.1%}" for change, case, then, now in sorted(rows)]
    return lines


def _written(bench: Any) -> list[str]:
    """The result files this run wrote: --benchmark-json's and the saved run."""
    paths = []
    if bench.json and Path(bench.json.name).exists():
        paths.append(Path(bench.json.name))
    folder = getattr(bench.storage, "path", None)
    if (bench.save or bench.autosave) and folder is not None:
        folder = Path(folder, bench.storage.default_machine_id or "")
        saved = sorted(folder.glob("*.json"))
        paths += saved[-1:]
    return [_relative(path) for path in paths]


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _fmt(load: float | None) -> str:
    return "?" if load is None else f"{load:.2f}"
