"""The ``rnnbench`` command line: one subcommand per module under ``rnnbench.commands``.

Each command module defines ``HELP`` (one line), ``configure(parser)`` and
``run(args) -> int``. Bad input raises ``ValueError`` (or ``FileNotFoundError``); the CLI
prints its message and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Subcommand -> module. Adding a command is one entry here plus its module.
COMMANDS: dict[str, str] = {
    "params": "rnnbench.commands.params",
    "gate": "rnnbench.commands.gate",
    "baseline": "rnnbench.commands.baseline",
    "report": "rnnbench.commands.report",
    "converge": "rnnbench.commands.converge",
    "targets": "rnnbench.bench.summary",
}

USAGE_ERROR = 2


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnbench",
        description="What LSTM, GRU and their variants cost and buy on your hardware.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as error:
        print(f"rnnbench {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"rnnbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
