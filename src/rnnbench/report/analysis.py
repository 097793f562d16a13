"""Pure queries over benchmark cases: the series, ratios and shares the report shows.

Tables, plots and the selection guide all ask these functions, so a number in a sentence is
the number in the table beside it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rnnbench.report.load import Case
from rnnbench.report.style import sort_key_cell, sort_key_impl

PASS_NAMES = {"fwd": "forward", "fwdbwd": "forward+backward"}
#: Preference when one panel or one sentence has to pick among passes and layouts.
PASS_ORDER = ("fwdbwd", "fwd")
LAYOUT_ORDER = ("padded", "packed")
#: The shape rnnbench quotes first (seed-sized model, fastrnns' T and B).
REFERENCE_T, REFERENCE_B = 100, 64


@dataclass(frozen=True)
class Family:
    """Cases that differ only in one swept variable (``T`` or ``B``) and the cell/impl."""

    vary: str
    device: str
    dtype: str
    input_size: int
    hidden_size: int
    num_layers: int
    layout: str
    fixed: int  # the value of the other of T and B
    pass_: str

    @property
    def title(self) -> str:
        other = "B" if self.vary == "T" else "T"
        layout = "" if self.layout == "padded" else f", {self.layout}"
        return (f"I={self.input_size} H={self.hidden_size} L={self.num_layers} "
                f"{other}={self.fixed}, {PASS_NAMES.get(self.pass_, self.pass_)}{layout}")


def family_of(case: Case, vary: str) -> Family:
    fixed = case.B if vary == "T" else case.T
    return Family(vary, case.device, case.dtype, case.input_size, case.hidden_size,
                  case.num_layers, case.layout, fixed, case.pass_)


def _preference(family: Family, points: int) -> tuple:
    reference = REFERENCE_B if family.vary == "T" else REFERENCE_T
    return (_rank(PASS_ORDER, family.pass_), _rank(LAYOUT_ORDER, family.layout),
            abs(math.log(family.fixed / reference)), -points, family.input_size,
            family.hidden_size, family.num_layers, family.fixed)


def _rank(order: Sequence[str], value: str) -> int:
    return order.index(value) if value in order else len(order)


def sweeps(cases: Iterable[Case], vary: str) -> dict[Family, dict[tuple[str, str], list[Case]]]:
    """Families with at least two values of ``vary``, each as ``(cell, impl) -> cases by x``.

    Families come in the order a reader wants them: forward+backward first, padded first,
    then the most points.
    """
    if vary not in ("T", "B"):
        raise ValueError(f"vary={vary!r} is not accepted: expected 'T' or 'B'")
    grouped: dict[Family, dict[tuple[str, str], list[Case]]] = defaultdict(
        lambda: defaultdict(list))
    for case in cases:
        grouped[family_of(case, vary)][(case.cell, case.impl)].append(case)
    result = {}
    for family, lines in grouped.items():
        xs = {getattr(case, vary) for line in lines.values() for case in line}
        if len(xs) < 2:
            continue
        result[family] = {
            key: sorted(lines[key], key=lambda c: getattr(c, vary))
            for key in sorted(lines, key=lambda k: (sort_key_cell(k[0]), sort_key_impl(k[1])))
        }
    order = sorted(result, key=lambda f: _preference(
        f, sum(len(line) for line in result[f].values())))
    return {family: result[family] for family in order}


@dataclass(frozen=True)
class Ratio:
    """A custom implementation's median time over native's, for one shape and cell."""

    custom: Case
    native: Case

    @property
    def value(self) -> float:
        return self.custom.median / self.native.median


def native_ratios(cases: Iterable[Case]) -> list[Ratio]:
    """Every custom case that has a native case of the same cell and shape."""
    native = {(c.shape, c.cell): c for c in cases if c.impl == "native"}
    ratios = [Ratio(c, native[(c.shape, c.cell)]) for c in cases
              if c.impl != "native" and (c.shape, c.cell) in native]
    return sorted(ratios, key=lambda r: (_shape_order(r.custom), sort_key_cell(r.custom.cell),
                                         sort_key_impl(r.custom.impl)))


def _shape_order(case: Case) -> tuple:
    return (case.device, case.dtype, _rank(PASS_ORDER, case.pass_),
            _rank(LAYOUT_ORDER, case.layout), case.input_size, case.hidden_size,
            case.num_layers, case.T, case.B)


def shape_label(case: Case, with_pass: bool = True) -> str:
    """The shape of a case in a few characters, e.g. ``T100 B64 I256 H128 L1 fwd+bwd``."""
    parts = [f"T{case.T}", f"B{case.B}", f"I{case.input_size}", f"H{case.hidden_size}",
             f"L{case.num_layers}"]
    if with_pass:
        parts.append({"fwdbwd": "fwd+bwd"}.get(case.pass_, case.pass_))
    if case.layout != "padded":
        parts.append(case.layout)
    if case.dtype != "f32":
        parts.append(case.dtype)
    return " ".join(parts)


@dataclass(frozen=True)
class Split:
    """Forward time and forward+backward time of one cell/impl at one shape."""

    forward: Case
    both: Case

    @property
    def backward(self) -> float:
        """Backward time, estimated as the difference of the two medians (seconds)."""
        return self.both.median - self.forward.median

    @property
    def backward_share(self) -> float:
        return self.backward / self.both.median


def forward_backward(cases: Iterable[Case]) -> list[Split]:
    """Pairs of ``fwd`` and ``fwdbwd`` cases that share everything but the pass."""
    cases = list(cases)

    def key(c: Case) -> tuple:
        return (c.device, c.dtype, c.input_size, c.hidden_size, c.num_layers, c.layout, c.T,
                c.B, c.cell, c.impl)

    forward = {key(c): c for c in cases if c.pass_ == "fwd"}
    splits = [Split(forward[key(c)], c) for c in cases
              if c.pass_ == "fwdbwd" and key(c) in forward]
    return sorted(splits, key=lambda s: (_shape_order(s.both), sort_key_cell(s.both.cell),
                                         sort_key_impl(s.both.impl)))


def find(cases: Iterable[Case], **fields: object) -> list[Case]:
    """Cases whose fields equal the given values (``pass_`` for the pass)."""
    return [c for c in cases if all(getattr(c, k) == v for k, v in fields.items())]


def closest(values: Iterable[int], target: int) -> int:
    """The value nearest to ``target`` (the smaller one on a tie)."""
    values = sorted(set(values))
    if not values:
        raise ValueError("values=[] is not accepted: expected at least one value")
    return min(values, key=lambda v: (abs(v - target), v))



def reference_key(case: Case) -> tuple:
    """Everything that defines a shape except the pass."""
    return (case.device, case.dtype, case.input_size, case.hidden_size, case.num_layers,
            case.layout, case.T, case.B)


def reference_shape(cases: Iterable[Case]) -> tuple | None:
    """The padded :func:`reference_key` nearest to T=100, B=64 with the most cases.

    The sections that show one shape (forward/backward split, the guide's headline numbers)
    all use this one, so they agree.
    """
    coverage: dict[tuple, int] = defaultdict(int)
    for case in cases:
        coverage[reference_key(case)] += 1
    if not coverage:
        return None

    def rank(key: tuple) -> tuple:
        t, b = key[6], key[7]
        distance = abs(math.log(t / REFERENCE_T)) + abs(math.log(b / REFERENCE_B))
        return (_rank(LAYOUT_ORDER, key[5]), distance, -coverage[key], key)

    return min(coverage, key=rank)
