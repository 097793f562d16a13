"""``rnnbench converge``: train cells to convergence on a synthetic task or IMDB, resumably.

Results go to ``--out`` after every epoch; rerunning the same command resumes (the rules and
the schema are in :mod:`rnnbench.converge.store`). Options left out keep the task's settings
(the dataclasses of :mod:`rnnbench.converge.experiments`).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
from pathlib import Path
from typing import Any

import torch

from rnnbench.bench.machine import cpu_model
from rnnbench.converge import imdb, workers
from rnnbench.converge.experiments import (
    Experiment,
    ImdbExperiment,
    ImdbSettings,
    SyntheticExperiment,
    SyntheticSettings,
)
from rnnbench.converge.models import CASE_NAMES
from rnnbench.converge.store import ResultsStore, checkpoint_file, default_checkpoints
from rnnbench.converge.train import flushing_denormals
from rnnbench.converge.train import run as train_run
from rnnbench.files import check_output_dir, check_output_file, read_json
from rnnbench.model.build import IMPL_NAMES
from rnnbench.validate import check_choice, check_positive

HELP = "train cells on the adding, copy-memory or IMDB task and report how fast they converge"

#: Per task: default cells, seeds and (synthetic tasks) sequence length.
DEFAULTS = {"adding": ("rnn,lstm,gru,bilstm,bigru", 3, 100),
            "copy": ("rnn,lstm,gru,bilstm,bigru", 3, 20), "imdb": ("lstm,gru,bilstm", 1, None)}
#: Where ``--download`` puts the archive when ``--data`` does not name a file.
DOWNLOAD_TO = Path("~/.cache/rnnbench/aclImdb_v1.tar.gz")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="adding", help=f"one of {', '.join(DEFAULTS)} "
                        "(default: adding, which needs no data)")
    parser.add_argument("--cells", help=f"comma-separated, from {', '.join(CASE_NAMES)} "
                        f"(default: {DEFAULTS['adding'][0]} for adding/copy; "
                        f"{DEFAULTS['imdb'][0]} for imdb)")
    parser.add_argument("--seeds", type=int, metavar="N",
                        help="run seeds 0..N-1 (default: 3 for adding/copy, 1 for imdb)")
    parser.add_argument("--epochs", type=int, default=20, metavar="E", help="epochs per run "
                        "(default 20); a synthetic epoch is --steps-per-epoch steps")
    parser.add_argument("--out", type=Path, help="results JSON (default: converge-TASK.json)")
    parser.add_argument("--checkpoints", type=Path, metavar="DIR",
                        help="checkpoint folder (default: beside --out, OUT_STEM.checkpoints)")
    parser.add_argument("--restart", action="store_true",
                        help="overwrite --out instead of resuming from it")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    parser.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (per "
                        "worker; default with --workers: the CPUs shared out)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="train up to N (cell, seed) runs at once, each in its own process "
                        "(default 1); seed 0 of every cell starts first")
    parser.add_argument("--launcher", default="local", help="where the (cell, seed) runs go: "
                        "local (this machine, --workers; the default) or ray (one Ray task "
                        "per run on a cluster; needs pip install 'rnnbench[ray]')")
    parser.add_argument("--address", help="with --launcher ray: the cluster's HOST:PORT "
                        "(default: $RAY_ADDRESS, else a Ray started on this machine)")
    parser.add_argument("--storage", type=Path, metavar="DIR", help="with --launcher ray: a "
                        "folder at the same path on every node, for each run's results and "
                        "checkpoint (default: beside --out, OUT_STEM.storage)")
    parser.add_argument("--job", type=workers.parse_job, help=argparse.SUPPRESS)  # one child
    parser.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    model = parser.add_argument_group("model and optimiser (default: the task's settings)")
    model.add_argument("--impl", help=f"recurrent implementation: {', '.join(IMPL_NAMES)}")
    for option, kind in (("--hidden-size", int), ("--num-layers", int), ("--dropout", float),
                         ("--lr", float), ("--batch-size", int)):
        model.add_argument(option, type=kind)
    model.add_argument("--grad-clip", type=float, help="max gradient norm (0: none)")
    data = parser.add_argument_group("IMDB")
    data.add_argument("--data", help=f"aclImdb .tar.gz or directory (default: ${imdb.ENV_VAR}, "
                      f"else {imdb.DEFAULT_PATHS[0]})")
    data.add_argument("--download", action="store_true",
                      help=f"fetch the official archive ({imdb.URL}) and verify its SHA-256")
    data.add_argument("--limit", type=int, metavar="N",
                      help="use N training and N test reviews (seeded random subset)")
    data.add_argument("--embed-dim", type=int)
    data.add_argument("--max-len", type=int, help="keep the first N tokens of a review")
    data.add_argument("--vocab-size", type=int)
    data.add_argument("--min-freq", type=int)
    data.add_argument("--val-fraction", type=float)
    synthetic = parser.add_argument_group("adding / copy")
    synthetic.add_argument("--seq-len", type=int, metavar="T",
                           help="sequence length T (default: 100 adding, 20 copy)")
    synthetic.add_argument("--steps-per-epoch", type=int)
    synthetic.add_argument("--eval-size", type=int)


def _settings(cls: type, args: argparse.Namespace, **fixed: Any) -> Any:
    """The task's settings dataclass with every option the user gave."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
             if getattr(args, f.name, None) is not None}
    if given.get("grad_clip") == 0:  # documented: 0 means no clipping
        given["grad_clip"] = None
    return cls(**{**fixed, **given})


def _cells(text: str) -> list[str]:
    cells = [c.strip() for c in text.split(",") if c.strip()]
    if not cells:
        raise ValueError(f"cells={text!r} is not accepted: expected a comma-separated list "
                         f"from {', '.join(CASE_NAMES)}")
    for cell in cells:
        check_choice("cell", cell, CASE_NAMES)
    return list(dict.fromkeys(cells))


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device={name!r} is not accepted: {error}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} is not accepted: CUDA is not available here; "
                         "use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device={name!r} is not accepted: expected cpu, cuda or cuda:N")
    return device


def experiment_for(args: argparse.Namespace) -> Experiment:
    if args.task == "imdb":
        return ImdbExperiment(_settings(ImdbSettings, args), _data_path(args))
    for option in ("limit", "data", "download"):
        if getattr(args, option) not in (None, False):
            raise ValueError(f"--{option} is not accepted with --task {args.task}: "
                             "it applies to --task imdb only")
    settings = _settings(SyntheticSettings, args, seq_len=DEFAULTS[args.task][2])
    return SyntheticExperiment(args.task, settings)


def _data_path(args: argparse.Namespace) -> Path:
    if not args.download:
        return imdb.resolve_path(args.data)
    data = Path(args.data) if args.data else None
    if data and data.exists() and not (data.is_file() or data.is_dir()):
        raise ValueError(f"data={args.data!r} is not accepted: not a regular file or a "
                         "directory; name where the archive should go")
    return imdb.download((data if data and not data.is_dir() else DOWNLOAD_TO).expanduser())


def environment(device: torch.device, flush_denormal: bool) -> dict[str, Any]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    return {"device": str(device), "device_name": name, "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "threads": torch.get_num_threads(), "flush_denormal": flush_denormal}


def run(args: argparse.Namespace) -> int:
    check_choice("task", args.task, DEFAULTS)
    default_cells, default_seeds, _ = DEFAULTS[args.task]
    cells = _cells(default_cells if args.cells is None else args.cells)
    seeds = default_seeds if args.seeds is None else args.seeds
    check_positive("seeds", seeds)
    check_positive("epochs", args.epochs)
    if args.impl is not None:
        check_choice("impl", args.impl, IMPL_NAMES)
    device = _device(args.device)
    if args.threads is not None:
        check_positive("threads", args.threads)
    check_positive("workers", args.workers)
    seeds_of = list(range(seeds))
    if args.job is not None:  # a child of --workers: one run
        check_choice("cell", args.job.cell, cells)
        cells, seeds_of = [args.job.cell], [args.job.seed]
    elif _launcher(args) == "ray":
        return _on_ray(args, cells, seeds)
    elif args.workers > 1:
        return _parallel(args, cells, seeds)
    threads = torch.get_num_threads()
    try:
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        return _train(args, cells, seeds_of, device)
    finally:
        torch.set_num_threads(threads)  # a caller in the same process keeps its setting


def _outputs(args: argparse.Namespace) -> tuple[Path, Path]:
    """``--out`` and ``--checkpoints``, checked for writability before anything trains."""
    out = check_output_file("--out", args.out or Path(f"converge-{args.task}.json"))
    return out, check_output_dir("--checkpoints", args.checkpoints or default_checkpoints(out))


def _parallel(args: argparse.Namespace, cells: list[str], seeds: int) -> int:
    """``--workers N``: one child process per (cell, seed), N at a time (see workers.py)."""
    out, checkpoints = _outputs(args)
    all_jobs = workers.jobs(cells, seeds)
    if args.restart:  # done once here: children resume, and would undo each other's restart
        out.unlink(missing_ok=True)
        for job in all_jobs:
            checkpoint_file(checkpoints, job.cell, job.seed).unlink(missing_ok=True)
    threads = args.threads or workers.threads_per_worker(min(args.workers, len(all_jobs)))
    status = workers.run_all(args.command_argv, all_jobs, args.workers, threads, args.quiet)
    if status == 0 and out.exists():
        print(table(read_json(out, "results file")))
    return status


def _launcher(args: argparse.Namespace) -> str:
    """``--launcher``, checked with the options that belong to the other launcher."""
    check_choice("launcher", args.launcher, workers.LAUNCHERS)
    others = ({"--address": args.address, "--storage": args.storage}
              if args.launcher == "local" else
              {"--checkpoints": args.checkpoints, "--workers": args.workers > 1 or None})
    for option, value in others.items():
        if value is not None:
            accepted = "ray" if args.launcher == "local" else "local"
            raise ValueError(f"{option} is not accepted with --launcher {args.launcher}: it "
                             f"applies to --launcher {accepted} only")
    return args.launcher


def _on_ray(args: argparse.Namespace, cells: list[str], seeds: int) -> int:
    """``--launcher ray``: one Ray task per (cell, seed) (see ray_launcher.py)."""
    from rnnbench.converge import ray_launcher

    experiment = experiment_for(args)  # bad settings are refused here, not on every node
    out = check_output_file("--out", args.out or Path(f"converge-{args.task}.json"))
    storage = check_output_dir("--storage", (args.storage or ray_launcher.default_storage(out))
                               .resolve())
    all_jobs = workers.jobs(cells, seeds)
    if args.restart:
        out.unlink(missing_ok=True)
        for job in all_jobs:
            ray_launcher.forget(storage, job)
    threads = args.threads or 1
    data = ["--data", str(Path(experiment.data_path).resolve())] if args.task == "imdb" else []

    def job_argv(job: workers.Job) -> list[str]:
        return [*workers.job_args(args.command_argv, job, threads), *data, "--quiet",
                "--out", str(ray_launcher.run_file(storage, job)),
                "--checkpoints", str(ray_launcher.checkpoints(storage))]

    merger = ray_launcher.Merger(out, storage, all_jobs, args.epochs, args.task,
                                 dataclasses.asdict(experiment.settings))
    status = ray_launcher.run_all(run_job, job_argv, all_jobs, merger, threads, args.address,
                                  args.quiet)
    if status == 0 and out.exists():
        print(table(read_json(out, "results file")))
    return status


def run_job(argv: list[str]) -> str | None:
    """One run on a Ray node: ``None``, or why it failed (a reason that no retry would fix)."""
    parser = argparse.ArgumentParser(prog="rnnbench converge", allow_abbrev=False)
    configure(parser)
    try:
        args = parser.parse_args(argv)
        args.command_argv = argv
        run(args)
    except (ValueError, OSError) as error:
        return str(error) or type(error).__name__
    except SystemExit:  # argparse's own refusal, already on the task's stderr
        return f"its arguments were refused: {' '.join(argv)}"
    return None


def _train(args: argparse.Namespace, cells: list[str], seeds: list[int],
           device: torch.device) -> int:
    experiment = experiment_for(args)
    out, checkpoints = _outputs(args)
    data = experiment.prepare()
    with flushing_denormals() as flush_denormal:
        store = ResultsStore(out, args.task, dataclasses.asdict(experiment.settings), data,
                             environment(device, flush_denormal), checkpoints, args.restart)
        if not args.restart:
            store.check_epochs(args.epochs)
        for cell in cells:
            for seed in seeds:
                train_run(experiment, cell, seed, args.epochs, store, device, args.quiet)
    store.write()
    if args.job is None:  # a --workers child: the parent prints the whole table
        print(table(store.document))
    diverged = [f"{r['cell']} seed {r['seed']} in epoch {r['diverged']['epoch']} "
                f"({r['diverged']['reason']})" for r in store.document["runs"]
                if r["status"] == "diverged"]
    if diverged:
        print(f"diverged (recorded as such, not retrained on a rerun): {'; '.join(diverged)}")
    return 0


def table(document: dict[str, Any]) -> str:
    """A markdown summary per cell (mean ± std over seeds)."""
    keys = (["best_val_accuracy", "test_accuracy_at_best", "converged_epoch", "epochs_run",
             "seconds_per_epoch"] if document["task"] == "imdb" else
            ["solved", "steps_to_solve", "final_loss", "final_accuracy", "wall_seconds"])
    lines = ["| cell | seeds | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for cell, stats in document["cells"].items():
        cells = [_fmt(stats.get(k, {})) for k in keys]
        lines.append(f"| {cell} | {len(stats['seeds'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(stat: dict[str, Any]) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    return f"{stat['mean']:.4g}" if stat["n"] == 1 else f"{stat['mean']:.4g} ± {stat['std']:.2g}"
