"""The benchmark grid: readable unique ids, comparable groups, the shapes the targets need."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnbench.bench import grid
from rnnbench.bench.grid import GRID_CELLS, Case
from rnnbench.model import cells


@pytest.mark.parametrize("profile", list(grid.PROFILES))
def test_ids_are_unique_and_every_shape_has_a_native_reference(profile: str) -> None:
    cases = grid.cases(profile)
    assert len({case.id for case in cases}) == len(cases)
    by_shape: dict[str, set[str]] = {}
    for case in cases:
        by_shape.setdefault(case.shape_key, set()).add(case.impl)
    for shape, impls in by_shape.items():  # the cell's impls, its twin (if any) among them
        cell = cells.parse(shape.split("-")[0])[0]
        assert impls <= set(cell.impls) and (cell.native is None or "native" in impls), shape


def test_id_reads_as_documented() -> None:
    case = Case("lstm", "native", "cpu", "f32", 100, 64, 256, 128, 1)
    assert case.id == "lstm-native-cpu-f32-I256-H128-L1-T100-B64-fwdbwd"
    assert case.shape_key == "lstm-cpu-f32-I256-H128-L1-T100-B64-fwdbwd"
    packed = Case("bigru", "eager", "cuda", "bf16", 16, 1, 512, 512, 1, "packed", "fwd")
    assert packed.id == "bigru-eager-cuda-bf16-I512-H512-L1-T16-B1-packed-fwd"
    assert packed.base_cell == "gru" and packed.bidirectional


@given(st.sampled_from(grid.cases("full")))
def test_info_carries_the_coordinates(case: Case) -> None:
    info = case.info()
    assert info["case"] == case.id and info["shape_key"] == case.shape_key
    assert Case(info["cell"], info["impl"], info["device"], info["dtype"], info["T"], info["B"],
                info["input_size"], info["hidden_size"], info["num_layers"], info["layout"],
                info["pass"]) == case


def test_quick_runs_every_cell_and_impl_on_cpu() -> None:
    cpu = grid.cases("quick", devices=["cpu"])
    names = [cells.case_name(c, d) for d in (1, 2) for c in GRID_CELLS]
    assert {(case.cell, case.impl) for case in cpu} == {
        (c, i) for c in names for i in cells.parse(c)[0].impls_on("cpu")}
    assert {case.layout for case in cpu} == set(grid.LAYOUTS)
    assert {case.pass_ for case in cpu} == set(grid.PASSES)
    assert {case.dtype for case in cpu} == {"f32"}


def test_cuda_only_impls_are_measured_on_cuda_alone() -> None:
    on = {device: {c.impl for c in grid.cases("quick", devices=[device])}
          for device in ("cpu", "cuda")}
    assert "triton" in on["cuda"] and "triton" not in on["cpu"]
    assert cells.get("lstm").impls_on("cpu") == tuple(
        i for i in cells.get("lstm").impls if i != "triton")


def test_quick_holds_the_shapes_the_cpu_targets_are_read_from() -> None:
    ids = {case.id for case in grid.cases("quick")}
    for cell in ("lstm", "gru"):
        for impl in cells.get(cell).impls_on("cpu"):
            for T, B in ((100, 64), (800, 64), (100, 8)):
                assert f"{cell}-{impl}-cpu-f32-I256-H128-L1-T{T}-B{B}-fwdbwd" in ids


def test_full_sweeps_lengths_and_batches() -> None:
    full = grid.cases("full", devices=["cpu"])
    assert min(c.T for c in full) == 16 and max(c.T for c in full) == 1024
    assert min(c.B for c in full) == 1 and max(c.B for c in full) == 256
    assert {c.id for c in grid.cases("quick", devices=["cpu"])} <= {c.id for c in full}


def test_filters_select_devices_and_dtypes() -> None:
    half = grid.cases("quick", devices=["cuda"], dtypes=["bf16", "f16"])
    assert half and all(c.device == "cuda" and c.dtype in ("bf16", "f16") for c in half)
    assert grid.cases("quick", devices=["cpu"], dtypes=["bf16"]) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"profile": "huge"}, "profile='huge' is not accepted: expected one of 'quick', 'ci', 'full'"),
    ({"devices": ["tpu"]}, "device='tpu' is not accepted: expected one of 'cpu', 'cuda'"),
    ({"dtypes": ["f64"]}, "dtype='f64' is not accepted: expected one of 'f32', 'bf16', 'f16'"),
])
def test_bad_selection_names_the_accepted_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        grid.cases(**kwargs)


def test_a_case_that_cannot_be_measured_is_refused() -> None:
    with pytest.raises(ValueError, match=r"dtype \(on cpu\)='bf16' is not accepted"):
        Case("lstm", "native", "cpu", "bf16", 100, 64, 256, 128, 1)
    with pytest.raises(ValueError, match="T=0 is not accepted"):
        Case("lstm", "native", "cpu", "f32", 0, 64, 256, 128, 1)


def test_full_measures_every_registered_cell_and_the_scan_over_t() -> None:
    full = grid.cases("full", devices=["cpu"])
    for name, cell in cells.CELLS.items():
        for impl in cell.impls_on("cpu"):
            assert any(c.cell == name and c.impl == impl and (c.T, c.B) == (100, 64)
                       for c in full), (name, impl)
    for name in grid.SCAN_CELLS:
        for impl in ("eager", "parallel"):
            assert {c.T for c in full if c.cell == name and c.impl == impl} == set(grid.LENGTHS)
