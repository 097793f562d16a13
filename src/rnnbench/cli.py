"""The ``rnnbench`` command line: one subcommand per module under ``rnnbench.commands``.

Each command module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``;
bad input raises ``ValueError`` (or an ``OSError``) whose message names the file or parameter,
the value and what to do. Exit status, for every command: 0 success; 1 only for a verdict about
the measurements (``gate`` found a regression, ``report --check`` a stale report); 2 unusable
input or environment, as one line ``rnnbench COMMAND: error: ...`` on stderr (``rnnbench --debug
COMMAND`` adds the traceback); 130 interrupted by Ctrl-C or SIGTERM (which unwinds like Ctrl-C,
so that subprocesses are stopped and temporary files removed), also while still importing (torch
and matplotlib are imported inside the handler); 141 (128 + SIGPIPE), quietly, when the reader
of stdout went away (``rnnbench ... | head -1``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence

#: Subcommand -> module. Adding a command is one entry here plus its module.
COMMANDS: dict[str, str] = {
    "cells": "rnnbench.commands.cells",
    "params": "rnnbench.commands.params",
    "gate": "rnnbench.commands.gate",
    "baseline": "rnnbench.commands.baseline",
    "report": "rnnbench.commands.report",
    "converge": "rnnbench.commands.converge",
    "history": "rnnbench.commands.history",
    "dashboard": "rnnbench.commands.dashboard",
    "targets": "rnnbench.bench.summary",
}

USAGE_ERROR = 2
INTERRUPTED = 130
BROKEN_PIPE = 141
#: Options whose value may start with a dash (``--pytest-args '--rnnbench-device=cuda'``),
#: which argparse accepts only as ``--pytest-args=VALUE``.
DASHED_VALUES = ("--pytest-args",)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnbench", allow_abbrev=False,
        description="What LSTM, GRU and their variants cost and buy on your hardware. Exit "
                    "status: 0 success, 1 a regression (gate) or a stale report (report "
                    "--check), 2 unusable input or environment, 130 interrupted.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (for bug reports)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP,
                                    allow_abbrev=False)  # `--resta` must not mean --restart
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def _unavailable(error: Exception) -> bool:
    """Whether ``error`` says an implementation cannot run here (e.g. Triton without CUDA)."""
    from rnnbench.model.errors import ImplUnavailable  # torch is imported by then

    return isinstance(error, ImplUnavailable)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), "")
    debug = "--debug" in argv[: argv.index(command)] if command else "--debug" in argv
    prefix = f"rnnbench {command}".rstrip()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if main_thread else None
    try:
        args = make_parser().parse_args(_joined(argv))
        args.command_argv = argv[argv.index(args.command) + 1:]  # for commands that re-run
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE
    except RecursionError:
        _report(prefix, "input nested too deeply to process (RecursionError); expected a "
                "results file, not arbitrary JSON", debug)
        return USAGE_ERROR
    except (ValueError, OSError) as error:
        _report(prefix, str(error) or type(error).__name__, debug)
        return USAGE_ERROR
    except Exception as error:  # only the gate's verdict may exit 1: anything else is exit 2
        if _unavailable(error):  # an implementation this machine cannot run: its message says
            _report(prefix, str(error), debug)
            return USAGE_ERROR
        _report(prefix, f"unexpected {type(error).__name__}: {error}. This is a bug in rnnbench "
                "(or an input it does not check yet); rerun with `rnnbench --debug ...` and "
                "report the traceback", debug)
        return USAGE_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _joined(argv: list[str]) -> list[str]:
    """``argv`` with each ``OPTION VALUE`` of :data:`DASHED_VALUES` as ``OPTION=VALUE``."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            return [*out, arg, *args]
        value = next(args, None) if arg in DASHED_VALUES else None
        out.append(arg if value is None else f"{arg}={value}")
    return out


def _report(prefix: str, message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(f"{prefix}: error: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout replaced (pytest's capture) or already closed
        pass


if __name__ == "__main__":
    sys.exit(main())
