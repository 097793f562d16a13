"""Build the dashboard: a static site that opens from ``file://``, with no server or network.

``DIR/index.html`` loads three scripts beside it: ``plotly.min.js`` (copied from the ``plotly``
package, never a CDN), ``data.js`` (everything measured, as one ``window.RNNBENCH`` object
written here) and ``app.js`` (the page's logic, static, in ``static/``). A marker file,
:data:`MARKER`, tells a folder this command built from any other, which it refuses to write
into.
"""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rnnbench.bench.results import Run, versus_native
from rnnbench.files import BadFile, write_atomic
from rnnbench.history.series import Machine
from rnnbench.history.steps import steps
from rnnbench.report.load import Convergence
from rnnbench.report.tables import PRIMARY

STATIC = Path(__file__).with_name("static")
ASSETS = ("index.html", "app.js", "style.css")
MARKER = "rnnbench-dashboard.json"


def check_out(out: Path) -> None:
    """Refuse ``out`` when it exists, is not empty and was not built by :func:`build`."""
    if out.exists() and not out.is_dir():
        raise BadFile(f"--out {str(out)!r} is a file: name a folder for the dashboard")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise BadFile(f"--out {str(out)!r} exists and is not a dashboard built by rnnbench "
                      f"(no {MARKER} in it): name a new or empty folder")


def build(out: Path, machines: Sequence[Machine], speed: Sequence[Run] = (),
          convergence: Sequence[Convergence] = ()) -> Path:
    """Write the site into ``out`` (checked with :func:`check_out`); returns its index.html."""
    check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    data = {"generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            **history(machines), "speed": [_speed(run) for run in speed],
            "convergence": [c for c in map(_curves, convergence) if c["cells"]]}
    write_atomic(out / "data.js", "window.RNNBENCH = "
                 + json.dumps(data, separators=(",", ":"), allow_nan=False) + ";\n")
    for name in ASSETS:
        shutil.copyfile(STATIC / name, out / name)
    plotly = _plotly()
    target = out / "plotly.min.js"
    if not target.exists() or target.stat().st_size != plotly.stat().st_size:
        shutil.copyfile(plotly, target)
    write_atomic(out / MARKER, json.dumps({"built": data["generated"], "files": [
        *ASSETS, "data.js", "plotly.min.js"]}, indent=1) + "\n")
    return out / "index.html"


def history(machines: Sequence[Machine]) -> dict[str, Any]:
    """Commits, cases, one series per machine and case, and the steps, in compact form: a
    point is ``[commit index, ratio to native, median ms, peak MiB, ATen ops]``."""
    runs = [run for machine in machines for run in machine.runs]
    commits: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda run: run.commit_time or run.date or ""):
        key = run.commit or run.path
        subject = run.suite.get("subject") or ""
        commits.setdefault(key, {"id": key, "time": (run.commit_time or run.date or "")[:16],
                                 "subject": subject})
    index = {key: i for i, key in enumerate(commits)}
    cases: dict[str, int] = {}
    case_rows: list[dict[str, Any]] = []
    series: dict[str, dict[int, list[list[Any]]]] = {}
    found = []
    for machine in machines:
        lines = series.setdefault(machine.name, {})
        for name, points in machine.series().items():
            if name not in cases:
                cases[name] = len(case_rows)
                case = points[0].result.case
                case_rows.append({"id": name, "cell": case.cell, "impl": case.impl, "T": case.T,
                                  "B": case.B, "pass": case.pass_, "dtype": case.dtype,
                                  "device": case.device, "layout": case.layout,
                                  "shape": case.shape_key, "I": case.input_size,
                                  "H": case.hidden_size, "L": case.num_layers})
            lines[cases[name]] = [[
                index[p.run.commit or p.run.path],
                None if p.ratio is None else round(p.ratio, 4),
                round(p.result.median * 1e3, 4),
                None if p.result.peak_memory_bytes is None else round(
                    p.result.peak_memory_bytes / 2**20, 2),
                p.result.aten_ops] for p in points]
            found += [{"machine": machine.name, "case": step.case, "commit": step.commit,
                       "previous": step.previous, "before": round(step.before, 4),
                       "after": round(step.after, 4), "size": round(step.size, 4),
                       "p": float(f"{step.p:.3g}"), "paired": step.paired}
                      for step in steps(points)]
    return {"machines": [{"name": m.name, "device": m.device_name, "runs": len(m.runs),
                          "torch": next((r.torch_version for r in m.runs if r.torch_version),
                                        "")} for m in machines],
            "commits": list(commits.values()), "cases": case_rows, "series": series,
            "steps": sorted(found, key=lambda s: -abs(s["size"] - 1))}


def _speed(run: Run) -> dict[str, Any]:
    """One report run: every case's median and quartiles, and custom/native ratios."""
    ratios = {t.name: ratio for t, _, ratio in versus_native(run.cases)}
    return {"path": run.path, "device": run.device_name, "date": run.date,
            "torch": run.torch_version, "cases": [{
                "id": r.name, "cell": r.case.cell, "impl": r.impl, "T": r.case.T,
                "B": r.case.B, "pass": r.case.pass_, "layout": r.case.layout,
                "L": r.case.num_layers, "median": round(r.median * 1e3, 4),
                "q1": round(r.quartiles[0] * 1e3, 4) if r.quartiles else None,
                "q3": round(r.quartiles[1] * 1e3, 4) if r.quartiles else None,
                "ratio": round(ratios[r.name], 4) if r.name in ratios else None,
                "noisy": run.noise(r)} for r in run.cases]}


def _curves(conv: Convergence) -> dict[str, Any]:
    """A convergence file's learning curves: mean, min and max over seeds, per cell."""
    x = "epoch" if conv.task == "imdb" else "step"
    metric = PRIMARY.get(conv.task, "eval_loss")
    cells = []
    for cell in sorted({t.cell for t in conv.runs}):
        at: dict[float, list[float]] = {}
        runs = [t for t in conv.runs if t.cell == cell]
        for t in runs:
            for e in t.epochs:
                if isinstance(e.get(metric), (int, float)) and isinstance(e.get(x), (int, float)):
                    at.setdefault(e[x], []).append(e[metric])
        if at:
            xs = sorted(at)
            cells.append({"cell": cell, "seeds": len(runs), "x": xs,
                          "mean": [round(statistics.fmean(at[i]), 5) for i in xs],
                          "low": [round(min(at[i]), 5) for i in xs],
                          "high": [round(max(at[i]), 5) for i in xs]})
    title = f"{conv.task}" + "".join(f" {k}={v}" for k, v in _settings(conv.settings).items())
    return {"task": conv.task, "title": title, "x": x, "metric": metric,
            "device": conv.device_name, "date": conv.date, "path": conv.path.as_posix(),
            "cells": cells}


def _settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: settings[k] for k in ("seq_len", "hidden_size") if k in settings}


def _plotly() -> Path:
    """The plotly.js bundle that the ``plotly`` Python package ships."""
    try:
        import plotly
    except ImportError:
        raise BadFile("the dashboard needs plotly.js from the plotly package: "
                      "`pip install plotly` (or the dev extra)") from None
    path = Path(plotly.__file__).with_name("package_data") / "plotly.min.js"
    if not path.is_file():
        raise BadFile(f"the plotly package has no {path}: reinstall it (`pip install -U plotly`)")
    return path
