"""``rnnbench params``: the parameter tensors and total of a recurrent layer of any cell."""

from __future__ import annotations

import argparse
import json
import math

from rnnbench.model.cells import CELLS
from rnnbench.model.params import RecurrentConfig, count_parameters, parameter_shapes

HELP = "closed-form parameter count and per-tensor breakdown of a recurrent layer of any cell"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cell", help=f"one of {', '.join(CELLS)} (rnnbench cells lists them)")
    parser.add_argument("--input-size", type=int, required=True, metavar="I")
    parser.add_argument("--hidden-size", type=int, required=True, metavar="H")
    parser.add_argument("--num-layers", type=int, default=1, metavar="L")
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--proj-size", type=int, default=0, metavar="P",
                        help="LSTM projection size (0: none)")
    parser.add_argument("--no-bias", dest="bias", action="store_false")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    config = RecurrentConfig(args.cell, args.input_size, args.hidden_size, args.num_layers,
                             args.bias, args.bidirectional, args.proj_size)
    shapes, total = parameter_shapes(config), count_parameters(config)
    if args.json:
        print(json.dumps({"total": total, "tensors": {k: list(v) for k, v in shapes.items()}}))
        return 0
    width = max(map(len, shapes))
    for name, shape in shapes.items():
        print(f"{name:<{width}}  {'x'.join(map(str, shape)):>12}  {math.prod(shape):>12,}")
    print(f"{'total':<{width}}  {'':>12}  {total:>12,}")
    return 0
