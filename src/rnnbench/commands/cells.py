"""``rnnbench cells``: the cell registry, one line per cell (``--json`` for machines)."""

from __future__ import annotations

import argparse
import json

from rnnbench.model.cells import CELLS
from rnnbench.model.params import RecurrentConfig, count_parameters

HELP = "list the registered cells: equations, gates, state, parameters, twin, implementations"
#: The layer size the parameter column is given for (one layer of the article's model).
INPUT, HIDDEN = 256, 128


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def rows() -> list[dict[str, object]]:
    return [{
        "name": cell.name, "equations": cell.equations, "gates": cell.gates,
        "state": list(cell.state),
        f"params_I{INPUT}_H{HIDDEN}": count_parameters(RecurrentConfig(cell.name, INPUT, HIDDEN)),
        "native": f"torch.nn.{cell.native.__name__}" if cell.native else None,
        "impls": list(cell.impls), "paper": cell.paper,
    } for cell in CELLS.values()]


def run(args: argparse.Namespace) -> int:
    table = rows()
    if args.json:
        print(json.dumps(table, indent=1, ensure_ascii=False))
        return 0
    key = f"params_I{INPUT}_H{HIDDEN}"
    print(f"{'cell':8} {'gates':>5} {'state':6} {f'params I={INPUT} H={HIDDEN}':>20}  "
          f"{'twin':16} implementations")
    for row in table:
        print(f"{row['name']:8} {row['gates']:>5} {','.join(row['state']):6} {row[key]:>20,}  "
              f"{row['native'] or '-':16} {', '.join(row['impls'])}")
        print(f"{'':8} {row['equations']}  ({row['paper']})")
    return 0
