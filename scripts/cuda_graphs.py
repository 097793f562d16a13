"""Does capturing a custom scan in a CUDA graph remove its launch overhead?

For LSTM and GRU at the suite's shape (I256 H128, 2 layers) and fastrnns' (I=H=512, one
layer), T=100, B=64, float32: the median time of cuDNN, of the ``eager``, ``derived`` and ``triton``
scans, and of the same scans replayed from CUDA graphs (``torch.cuda.make_graphed_callables``
for forward+backward, ``torch.cuda.graph`` for inference), timed with
``triton.testing.do_bench`` (CUDA events, median). Each graphed result is first checked
against the eager one. Prints a table; ``--json PATH`` keeps it.
Needs CUDA: without it, says so and exits 0 (the dry run of scripts/gpu_run.py).
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
from torch import nn

from rnnbench import build

SHAPES = {"suite": (256, 128, 2), "fastrnns": (512, 512, 1)}
T, B = 100, 64


class Output(nn.Module):
    """The layer's output alone: graphs take and return tensors."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)[0]


def median_ms(call) -> float:
    """Triton's CUDA-event timer: warm-up, L2 flushed between calls, the median in ms."""
    from triton.testing import do_bench

    return do_bench(call, return_mode="median")


def measure(cell: str, impl: str, shape: str, graphed: bool) -> dict[str, float | str | None]:
    inputs, H, L = SHAPES[shape]
    torch.manual_seed(0)
    model = Output(build(cell, impl, inputs, H, num_layers=L)).cuda()
    x = torch.randn(T, B, inputs, device="cuda", requires_grad=True)
    grad = torch.randn(T, B, H, device="cuda")
    row: dict[str, float | str | None] = {"cell": cell, "impl": impl + "+graph" * graphed,
                                          "shape": shape}
    reference = model(x).detach()
    if graphed:
        fwdbwd_model = torch.cuda.make_graphed_callables(model, (x,))
        # Inference graph: captured separately, under no_grad.
        static_x = x.detach().clone()
        for _ in range(2):  # warm-up on a side stream, as capture requires
            with torch.no_grad():
                model(static_x)
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(graph):
            static_out = model(static_x)
        torch.testing.assert_close(fwdbwd_model(x).detach(), reference, rtol=1e-4, atol=1e-5)
        graph.replay()
        torch.testing.assert_close(static_out, reference, rtol=1e-4, atol=1e-5)
        row["fwd_ms"] = median_ms(graph.replay)
        row["fwdbwd_ms"] = median_ms(lambda: fwdbwd_model(x).backward(grad))
    else:
        with torch.no_grad():
            row["fwd_ms"] = median_ms(lambda: model(x))
        row["fwdbwd_ms"] = median_ms(lambda: model(x).backward(grad))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("cuda_graphs: CUDA is not available here; nothing measured")
        return 0
    rows = []
    for shape in SHAPES:
        for cell in ("lstm", "gru"):
            for impl, graphed in (("native", False), ("eager", False), ("eager", True),
                                  ("derived", False), ("derived", True), ("triton", False),
                                  ("triton", True)):
                try:
                    rows.append(measure(cell, impl, shape, graphed))
                except Exception as error:  # one failing variant must not hide the others
                    rows.append({"cell": cell, "impl": impl + "+graph" * graphed,
                                 "shape": shape, "error": f"{type(error).__name__}: {error}"})
                print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'shape':9} {'cell':5} {'impl':14} {'fwd ms':>8} {'x cuDNN':>8} "
          f"{'fwdbwd ms':>10} {'x cuDNN':>8}")
    for row in rows:
        native = next(r for r in rows if r["cell"] == row["cell"] and r["shape"] == row["shape"]
                      and r["impl"] == "native")
        if "error" in row or "error" in native:
            print(f"{row['shape']:9} {row['cell']:5} {row['impl']:14} {row.get('error', '')}")
            continue
        print(f"{row['shape']:9} {row['cell']:5} {row['impl']:14} {row['fwd_ms']:8.3f} "
              f"{row['fwd_ms'] / native['fwd_ms']:7.2f}x {row['fwdbwd_ms']:10.3f} "
              f"{row['fwdbwd_ms'] / native['fwdbwd_ms']:7.2f}x")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                       "T": T, "B": B, "timer": "triton.testing.do_bench", "rows": rows},
                      file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
