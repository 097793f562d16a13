"""The one declarative grid of benchmark cases and its profiles.

A :class:`Sweep` is the Cartesian product of a few axes (cells from the registry,
:mod:`rnnbench.model.cells`, and their direction counts among them); a profile is a tuple of
sweeps. Adding a shape, a cell or an implementation to the suite is an edit of
:data:`PROFILES` alone; an implementation a cell lacks is left out of its sweeps. Case ids
read as ``lstm-native-cpu-f32-I256-H128-L1-T100-B64-fwdbwd`` (``-packed`` before the pass for
variable-length input); :attr:`Case.shape_key` is the id without the
implementation, so every implementation of one shape lands in one pytest-benchmark group
and the ``native`` case of a ``shape_key`` is the reference for the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from rnnbench.model import cells
from rnnbench.model.build import IMPL_NAMES
from rnnbench.validate import check_choice, check_positive

#: The cells the profiles measure (registry names).
GRID_CELLS: tuple[str, ...] = ("lstm", "gru")
#: ``fwd``: forward only with autograd off (inference); ``fwdbwd``: forward and backward.
PASSES: tuple[str, ...] = ("fwd", "fwdbwd")
#: ``packed``: a ``PackedSequence`` of random lengths (the longest is ``T``).
LAYOUTS: tuple[str, ...] = ("padded", "packed")
#: Device -> the dtypes measured there (short name as in case ids -> ``torch`` dtype name).
DEVICE_DTYPES: dict[str, tuple[str, ...]] = {"cpu": ("f32",), "cuda": ("f32", "bf16", "f16")}
DEVICES: tuple[str, ...] = tuple(DEVICE_DTYPES)
DTYPES: dict[str, str] = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}


@dataclass(frozen=True)
class Model:
    """The layer sizes of one recurrent stack."""

    input_size: int
    hidden_size: int
    num_layers: int


ARTICLE = Model(256, 128, 2)  # the article's IMDB model
ARTICLE_LAYER = Model(256, 128, 1)  # one layer of it: the shape of the CPU targets
FASTRNNS = Model(512, 512, 1)  # PyTorch's benchmarks/fastrnns default (T=100, B=64)


@dataclass(frozen=True)
class Case:
    """One benchmarked configuration; ``pass_`` is the ``pass`` axis (a keyword in Python)."""

    cell: str
    impl: str
    device: str
    dtype: str
    T: int
    B: int
    input_size: int
    hidden_size: int
    num_layers: int
    layout: str = "padded"
    pass_: str = "fwdbwd"

    def __post_init__(self) -> None:
        spec, _ = cells.parse(self.cell)
        check_choice(f"impl (of {spec.name})", self.impl, spec.impls)
        check_choice("device", self.device, DEVICES)
        check_choice(f"dtype (on {self.device})", self.dtype, DEVICE_DTYPES[self.device])
        check_choice("layout", self.layout, LAYOUTS)
        check_choice("pass", self.pass_, PASSES)
        for name in ("T", "B", "input_size", "hidden_size", "num_layers"):
            check_positive(name, getattr(self, name))

    @classmethod
    def recorded(cls, **coordinates: object) -> Case:
        """A case as a results file records it. Results outlive implementations, so its impl
        need not be one the registry has today (every other axis is checked as usual)."""
        impl = coordinates["impl"]
        if not isinstance(impl, str) or not impl:
            raise ValueError(f"impl={impl!r} is not accepted: expected an implementation name")
        case = cls(**{**coordinates, "impl": "eager"})  # type: ignore[arg-type]
        object.__setattr__(case, "impl", impl)
        return case

    @property
    def base_cell(self) -> str:
        """The registry cell: ``lstm`` for ``bilstm``."""
        return cells.parse(self.cell)[0].name

    @property
    def bidirectional(self) -> bool:
        return cells.parse(self.cell)[1] == 2

    @property
    def shape_key(self) -> str:
        """Everything but the implementation: equal for the cases that are compared."""
        return "-".join(self._parts(with_impl=False))

    @property
    def id(self) -> str:
        return "-".join(self._parts(with_impl=True))

    def _parts(self, with_impl: bool) -> list[str]:
        parts = [self.cell, *([self.impl] if with_impl else []), self.device, self.dtype,
                 f"I{self.input_size}", f"H{self.hidden_size}", f"L{self.num_layers}",
                 f"T{self.T}", f"B{self.B}"]
        if self.layout != "padded":
            parts.append(self.layout)
        return [*parts, self.pass_]

    def info(self) -> dict[str, object]:
        """The case's coordinates, as they go into ``extra_info``."""
        return {
            "case": self.id, "shape_key": self.shape_key, "cell": self.cell, "impl": self.impl,
            "device": self.device, "dtype": self.dtype, "T": self.T, "B": self.B,
            "input_size": self.input_size, "hidden_size": self.hidden_size,
            "num_layers": self.num_layers, "bidirectional": self.bidirectional,
            "layout": self.layout, "pass": self.pass_,
        }


@dataclass(frozen=True)
class Sweep:
    """Every combination of the axes below; dtypes a device does not measure and impls a cell
    does not have are left out."""

    cells: tuple[str, ...] = GRID_CELLS
    directions: tuple[int, ...] = (1, 2)
    impls: tuple[str, ...] = IMPL_NAMES
    models: tuple[Model, ...] = (ARTICLE,)
    lengths: tuple[int, ...] = (100,)
    batches: tuple[int, ...] = (64,)
    passes: tuple[str, ...] = ("fwdbwd",)
    layouts: tuple[str, ...] = ("padded",)
    devices: tuple[str, ...] = DEVICES
    dtypes: tuple[str, ...] = ("f32",)

    def cases(self) -> Iterator[Case]:
        names = [cells.case_name(c, d) for d in self.directions for c in self.cells]
        axes = (names, self.impls, self.devices, self.dtypes, self.models, self.lengths,
                self.batches, self.layouts, self.passes)
        for cell, impl, device, dtype, model, T, B, layout, pass_ in itertools.product(*axes):
            if dtype in DEVICE_DTYPES[device] and impl in cells.parse(cell)[0].impls_on(device):
                yield Case(cell, impl, device, dtype, T, B, model.input_size,
                           model.hidden_size, model.num_layers, layout, pass_)


ONE = (1,)  # one direction
HALF = ("bf16", "f16")

#: ``quick``: CI's default, every cell and impl on a few shapes, including the shapes the
#: targets are read from (ratio to native at B=64 and B=8, growth from T=100 to T=800).
#: PyTorch's fastrnns shape runs on CUDA only here: one CPU call of it takes about a second.
QUICK: tuple[Sweep, ...] = (
    Sweep(models=(ARTICLE,)),
    Sweep(directions=ONE, models=(ARTICLE_LAYER,), lengths=(100, 800)),
    Sweep(directions=ONE, models=(ARTICLE_LAYER,), batches=(8,)),
    Sweep(models=(ARTICLE_LAYER,), layouts=("packed",)),
    Sweep(directions=ONE, models=(ARTICLE_LAYER,), passes=("fwd",)),
    Sweep(models=(FASTRNNS,), devices=("cuda",), passes=PASSES),
    Sweep(directions=ONE, models=(FASTRNNS,), devices=("cuda",), dtypes=HALF),
)

#: Every registered cell, and those with a ``parallel`` scan (whose length sweep asks where
#: the scan over T beats the step loop, plain and derived).
ALL_CELLS: tuple[str, ...] = tuple(cells.CELLS)
SCAN_CELLS: tuple[str, ...] = tuple(n for n, c in cells.CELLS.items() if "parallel" in c.scans)
LENGTHS: tuple[int, ...] = (16, 32, 64, 100, 256, 512, 800, 1024)

#: ``full``: the sweep. T from 16 to 1024 and B from 1 to 256 on one layer of the seed
#: model, both passes; every model in both layouts; half precision on CUDA; every registered
#: cell at the seed layer's shape, and the scan cells' step loop against their scan over T.
FULL: tuple[Sweep, ...] = (
    *QUICK,
    Sweep(cells=ALL_CELLS, directions=ONE, models=(ARTICLE_LAYER,), passes=PASSES),
    Sweep(cells=SCAN_CELLS, directions=ONE, impls=("eager", "derived", "parallel"),
          models=(ARTICLE_LAYER,), lengths=LENGTHS, passes=PASSES),
    Sweep(models=(ARTICLE_LAYER,), lengths=LENGTHS, passes=PASSES),
    Sweep(models=(ARTICLE_LAYER,), batches=(1, 8, 16, 32, 64, 128, 256), passes=PASSES),
    Sweep(models=(ARTICLE, ARTICLE_LAYER, FASTRNNS), passes=PASSES, layouts=LAYOUTS),
    Sweep(models=(ARTICLE_LAYER, FASTRNNS), passes=PASSES, devices=("cuda",), dtypes=HALF),
)

#: ``ci``: what CI's regression gate judges in a few minutes on a 2-core machine: the quick
#: profile's one-layer shapes at T=100 (B=64, B=8, forward only, packed in both directions),
#: which run every implementation's code. The two-layer model and T=800 take most of the quick
#: profile's time and stay in ``quick`` for people.
CI: tuple[Sweep, ...] = tuple(
    replace(sweep, lengths=(100,)) for sweep in QUICK if sweep.models == (ARTICLE_LAYER,))

PROFILES: dict[str, tuple[Sweep, ...]] = {"quick": QUICK, "ci": CI, "full": FULL}


def cases(
    profile: str = "quick",
    devices: Iterable[str] | None = None,
    dtypes: Iterable[str] | None = None,
) -> list[Case]:
    """The cases of ``profile``, in grid order without repeats, optionally filtered."""
    check_choice("profile", profile, PROFILES)
    devices = _checked("device", devices, DEVICES)
    dtypes = _checked("dtype", dtypes, DTYPES)
    seen: dict[str, Case] = {}
    for sweep in PROFILES[profile]:
        for case in sweep.cases():
            if case.device in devices and case.dtype in dtypes:
                seen.setdefault(case.id, case)
    return list(seen.values())


def _checked(name: str, chosen: Iterable[str] | None, accepted: Iterable[str]) -> set[str]:
    chosen = list(accepted if chosen is None else chosen)
    for value in chosen:
        check_choice(name, value, accepted)
    return set(chosen)
