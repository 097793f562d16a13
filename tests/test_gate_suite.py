"""End to end on the real benchmark suite: the slowdown switch is caught and named.

Timing verdicts are not asserted (no timed unit tests); the slowed implementation dispatches
more ATen operators per call, a deterministic count, so the gate must fail on it every time.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rnnbench.cli import main
from rnnbench.gate.rerun import CPU_ARGS, suite_command
from rnnbench.impls import SLOWDOWN_ENV

ROOT = Path(__file__).resolve().parents[1]
NATIVE = "lstm-native-cpu-f32-I256-H128-L1-T100-B64-fwd"
EAGER = "lstm-eager-cpu-f32-I256-H128-L1-T100-B64-fwd"
QUICK_TIMING = "--benchmark-max-time=0.05 --benchmark-min-rounds=5"


def measure(output: Path, slowdown: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != SLOWDOWN_ENV}
    if slowdown:
        env[SLOWDOWN_ENV] = slowdown
    command = suite_command(output, f"{CPU_ARGS} {QUICK_TIMING}", [NATIVE, EAGER])
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_slowed_implementation_fails_the_gate_by_name(tmp_path, capsys) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    measure(before, None)
    measure(after, "lstm:eager:1.5")

    assert main(["gate", str(before), str(before)]) == 0
    capsys.readouterr()
    assert main(["gate", str(before), str(after), "--json", str(tmp_path / "v.json")]) == 1
    out = capsys.readouterr().out
    regressions = out.split("REGRESSION in 1 case(s):\n")[1]
    assert regressions.startswith(f"  {EAGER}:")
    assert "aten_ops grew" in regressions and NATIVE + ":" not in regressions
