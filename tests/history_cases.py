"""The cases of the history tests' real run (:func:`conftest.slowed_history`)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Two cases of one shape: native and eager LSTM, forward only (about 40 ms a call).
CASES = [f"lstm-{impl}-cpu-f32-I256-H128-L1-T100-B64-fwd" for impl in ("native", "eager")]
#: The case that ``RNNBENCH_SLOWDOWN=lstm:eager:2`` slows on the newest commit.
SLOWED = CASES[1]
