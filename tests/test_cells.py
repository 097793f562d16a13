"""The hand-written cells are drop-in twins of their torch.nn modules (nn.RNN, nn.LSTM, nn.GRU).

Weights are copied from the torch.nn module; outputs, final states and every parameter
gradient must agree (float64 to 1e-10, float32 to 1e-5) for random configurations.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from rnnbench import ImplUnavailable, Recurrent, build
from rnnbench.model import cells, derived
from rnnbench.model.cells import CELLS

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
#: 'compiled': own fixed-shape tests (each compiles); 'derived' runs its traced graphs op by op
#: here (:func:`traced`), and its compiled kernels in tests/test_derived.py.
CUSTOM = ("eager", "script", "derived")


@contextlib.contextmanager
def traced(impl: str) -> Iterator[None]:
    """``derived`` without Inductor: each random shape would compile its own kernels."""
    was = derived.SETTINGS.compile
    derived.SETTINGS.compile = was and impl != "derived"
    try:
        yield
    finally:
        derived.SETTINGS.compile = was


@dataclass(frozen=True)
class Case:
    cell: str
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    bidirectional: bool
    seq_len: int
    batch: int  # 0 means unbatched 2-D input
    with_state: bool
    dtype: torch.dtype


@st.composite
def cases(draw: st.DrawFn) -> Case:
    return Case(
        cell=draw(st.sampled_from([name for name, c in CELLS.items() if c.native])),
        input_size=draw(st.integers(1, 10)),
        hidden_size=draw(st.integers(1, 10)),
        num_layers=draw(st.integers(1, 3)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
        seq_len=draw(st.integers(1, 7)),
        batch=draw(st.integers(0, 4)),
        with_state=draw(st.booleans()),
        dtype=draw(st.sampled_from([torch.float64, torch.float32])),
    )


def twins(case: Case, impl: str) -> tuple[nn.Module, nn.Module]:
    kwargs = dict(
        input_size=case.input_size, hidden_size=case.hidden_size, num_layers=case.num_layers,
        bias=case.bias, batch_first=case.batch_first, bidirectional=case.bidirectional,
    )
    native = build(case.cell, "native", **kwargs).to(case.dtype)
    custom = build(case.cell, impl, **kwargs).to(case.dtype)
    custom.load_state_dict(native.state_dict())
    return native, custom


def inputs(case: Case, generator: torch.Generator) -> tuple[Tensor, object]:
    layers = case.num_layers * (2 if case.bidirectional else 1)
    if case.batch == 0:
        shape, state_shape = (case.seq_len, case.input_size), (layers, case.hidden_size)
    elif case.batch_first:
        shape = (case.batch, case.seq_len, case.input_size)
        state_shape = (layers, case.batch, case.hidden_size)
    else:
        shape = (case.seq_len, case.batch, case.input_size)
        state_shape = (layers, case.batch, case.hidden_size)
    x = torch.randn(shape, dtype=case.dtype, generator=generator)
    if not case.with_state:
        return x, None
    h0 = torch.randn(state_shape, dtype=case.dtype, generator=generator)
    if len(CELLS[case.cell].state) == 2:
        return x, (h0, torch.randn(state_shape, dtype=case.dtype, generator=generator))
    return x, h0


def flatten(result: object) -> list[Tensor]:
    output, state = result
    if isinstance(output, nn.utils.rnn.PackedSequence):
        output = output.data
    return [output, *(state if isinstance(state, tuple) else (state,))]


def assert_twins(native: nn.Module, custom: nn.Module, x: object, hx: object,
                 dtype: torch.dtype) -> None:
    tol = TOLERANCE[dtype]
    inputs_native = [x.clone().requires_grad_()] if isinstance(x, Tensor) else [x]
    inputs_custom = [x.clone().requires_grad_()] if isinstance(x, Tensor) else [x]
    got, want = flatten(custom(inputs_custom[0], hx)), flatten(native(inputs_native[0], hx))
    assert [g.shape for g in got] == [w.shape for w in want]
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=tol, rtol=tol)

    # A random linear functional of every result exercises every gradient path.
    generator = torch.Generator().manual_seed(1)
    weights = [torch.randn(w.shape, dtype=dtype, generator=generator) for w in want]
    sum((g * c).sum() for g, c in zip(got, weights, strict=True)).backward()
    sum((w * c).sum() for w, c in zip(want, weights, strict=True)).backward()
    for (name, p_custom), (_, p_native) in zip(
        custom.named_parameters(), native.named_parameters(), strict=True
    ):
        torch.testing.assert_close(p_custom.grad, p_native.grad, atol=tol, rtol=tol, msg=name)
    if isinstance(x, Tensor):
        torch.testing.assert_close(inputs_custom[0].grad, inputs_native[0].grad,
                                   atol=tol, rtol=tol)


@pytest.mark.parametrize("impl", CUSTOM)
@given(case=cases(), seed=st.integers(0, 2**16))
def test_matches_native(impl: str, case: Case, seed: int) -> None:
    assume(impl in CELLS[case.cell].impls)
    torch.manual_seed(seed)
    native, custom = twins(case, impl)
    x, hx = inputs(case, torch.Generator().manual_seed(seed))
    with traced(impl):
        assert_twins(native, custom, x, hx, case.dtype)


@pytest.mark.parametrize("impl", CUSTOM)
@settings(max_examples=15)
@given(case=cases(), lengths=st.lists(st.integers(1, 7), min_size=1, max_size=5))
def test_packed_sequences_match_native(impl: str, case: Case, lengths: list[int]) -> None:
    assume(impl in CELLS[case.cell].impls)
    batch = len(lengths)
    case = Case(**{**case.__dict__, "batch": batch, "seq_len": max(lengths),
                   "batch_first": False})
    native, custom = twins(case, impl)
    x, hx = inputs(case, torch.Generator().manual_seed(batch))
    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    with traced(impl):
        assert_twins(native, custom, packed, hx, case.dtype)
        out, _ = custom(packed, hx)
    assert torch.equal(out.batch_sizes, packed.batch_sizes)
    assert torch.equal(out.unsorted_indices, packed.unsorted_indices)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_matches_native(cell: str, dtype: torch.dtype) -> None:
    case = Case(cell, 5, 6, 2, True, True, True, 4, 3, True, dtype)
    native, custom = twins(case, "compiled")
    x, hx = inputs(case, torch.Generator().manual_seed(0))
    assert_twins(native, custom, x, hx, dtype)


@pytest.mark.parametrize("impl", ["eager", "script", "compiled"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_same_parameter_names_shapes_and_state_dict_both_ways(cell: str, impl: str) -> None:
    kwargs = dict(input_size=5, hidden_size=3, num_layers=2, bidirectional=True)
    native, custom = build(cell, "native", **kwargs), build(cell, impl, **kwargs)
    assert [(n, p.shape) for n, p in custom.named_parameters()] == [
        (n, p.shape) for n, p in native.named_parameters()
    ]
    native.load_state_dict(custom.state_dict())
    for (_, a), (_, b) in zip(custom.named_parameters(), native.named_parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_initialisation_matches_pytorch_range(cell: str) -> None:
    custom = build(cell, "eager", 7, 16)
    bound = 1 / 16**0.5
    for p in custom.parameters():
        assert p.abs().max() <= bound and p.std() > bound / 4  # uniform in ±1/sqrt(H)


def test_dropout_only_between_layers() -> None:
    torch.manual_seed(0)
    x = torch.randn(6, 4, 5)
    # One layer: nothing to drop between layers, so train mode matches native exactly.
    with pytest.warns(UserWarning, match="num_layers=1"):
        native = nn.LSTM(5, 3, dropout=0.5)
    with pytest.warns(UserWarning, match="num_layers=1"):
        custom = build("lstm", "eager", 5, 3, dropout=0.5)
    custom.load_state_dict(native.state_dict())
    torch.testing.assert_close(custom(x)[0], native(x)[0])
    # Two layers: training differs run to run (dropout active), eval matches native.
    native, custom = nn.GRU(5, 3, 2, dropout=0.5), build("gru", "eager", 5, 3, 2, dropout=0.5)
    custom.load_state_dict(native.state_dict())
    first, second = custom(x)[0], custom(x)[0]
    assert not torch.allclose(first, second)
    custom.eval(), native.eval()
    torch.testing.assert_close(custom(x)[0], native(x)[0])


def test_dropout_applied_once_between_two_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    original = F.dropout

    def spy(t: Tensor, p: float, training: bool) -> Tensor:
        seen.append((p, training, tuple(t.shape)))
        return original(t, p, training)

    monkeypatch.setattr(F, "dropout", spy)
    build("gru", "eager", 4, 4, num_layers=2, dropout=0.25)(torch.randn(3, 2, 4))
    assert seen == [(0.25, True, (3, 2, 4))]  # after layer 0, not after the last layer


def seed_article_gru_step(x: Tensor, h: Tensor, gru: nn.GRU) -> Tensor:
    """The seed article's GRU: candidate from r's weight slice, r applied before the matmul."""
    hidden = gru.hidden_size
    w_ih, w_hh = gru.weight_ih_l0, gru.weight_hh_l0
    bias = gru.bias_ih_l0 + gru.bias_hh_l0
    gates = x @ w_ih.T + h @ w_hh.T + bias
    r, z, _ = gates.chunk(3, dim=1)
    r, z = torch.sigmoid(r), torch.sigmoid(z)
    n = torch.tanh(x @ w_ih[:hidden].T + (r * h) @ w_hh[:hidden].T)
    return (1 - z) * h + z * n


def reset_before_gru_step(x: Tensor, h: Tensor, gru: nn.GRU) -> Tensor:
    """The textbook (Cho et al.) variant with the right slices: r applied before the matmul."""
    w_ir, w_iz, w_in = gru.weight_ih_l0.chunk(3)
    w_hr, w_hz, w_hn = gru.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = gru.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = gru.bias_hh_l0.chunk(3)
    r = torch.sigmoid(x @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
    z = torch.sigmoid(x @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
    n = torch.tanh(x @ w_in.T + b_in + (r * h) @ w_hn.T + b_hn)
    return (1 - z) * n + z * h


@pytest.mark.parametrize("step", [seed_article_gru_step, reset_before_gru_step])
def test_reset_before_matmul_does_not_match_nn_gru(step) -> None:
    torch.manual_seed(0)
    gru = nn.GRU(6, 5).double()
    x, h = torch.randn(1, 3, 6, dtype=torch.float64), torch.randn(1, 3, 5, dtype=torch.float64)
    _, expected = gru(x, h)
    wrong = step(x[0], h[0], gru)
    assert (wrong - expected[0]).abs().max() > 1e-3
    # ...whereas rnnbench's step, on the same weights, is nn.GRU to rounding.
    ours = build("gru", "eager", 6, 5).double()
    ours.load_state_dict(gru.state_dict())
    torch.testing.assert_close(ours(x, h)[1], expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(cell="tcn", impl="eager"), ["cell='tcn'", "'lstm'", "'gru'"]),
        (dict(cell="lstm", impl="cuda"), ["impl='cuda'", "'native'", "'eager'", "'compiled'"]),
        (dict(cell="lstm", impl="eager", input_size=0), ["input_size=0"]),
        (dict(cell="gru", impl="native", hidden_size=-2), ["hidden_size=-2"]),
        (dict(cell="lstm", impl="script", num_layers=0), ["num_layers=0"]),
        (dict(cell="lstm", impl="eager", dropout=1.0), ["dropout=1.0", "[0, 1)"]),
        (dict(cell="gru", impl="native", dropout=-0.1), ["dropout=-0.1"]),
    ],
)
def test_bad_arguments_name_parameter_value_and_accepted(kwargs: dict, words: list[str]) -> None:
    arguments = {"input_size": 4, "hidden_size": 3, **kwargs}
    with pytest.raises(ValueError) as error:
        build(**arguments)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("impl", ["eager", "script"])
def test_bad_input_rank_and_features(impl: str) -> None:
    model = build("lstm", impl, 4, 3)
    with pytest.raises(ValueError, match=r"input.dim\(\)=4 .* 2-D .* 3-D"):
        model(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"input feature size 5 .* input_size=4"):
        model(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"hx shape \(1, 2, 3\) .* expected \(1, 3, 3\)"):
        model(torch.randn(2, 3, 4), (torch.zeros(1, 2, 3), torch.zeros(1, 2, 3)))
    with pytest.raises(ValueError, match="expected a tuple"):
        model(torch.randn(2, 3, 4), torch.zeros(1, 3, 3))


def test_script_unavailable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnnbench.model import impls

    impls.scan_for.cache_clear()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("TorchScript has been removed")

    monkeypatch.setattr(torch.jit, "script", broken)
    try:
        with pytest.raises(ImplUnavailable, match=r"impl='script' is not available.*'compiled'"):
            Recurrent("gru", "script", 3, 2)
    finally:
        impls.scan_for.cache_clear()


def test_compiled_does_not_unroll_the_time_loop() -> None:
    """Longer sequences reuse the one compiled step: no graph grows with T."""
    from torch._dynamo.utils import counters

    model = build("gru", "compiled", 3, 4)
    model(torch.randn(2, 2, 3))
    frames = counters["stats"]["unique_graphs"]
    model(torch.randn(50, 2, 3))
    assert counters["stats"]["unique_graphs"] == frames


def test_native_and_scans_are_refused_where_the_registry_has_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell without a torch.nn twin (or a scan of its own) builds every other impl."""
    plain = dataclasses.replace(CELLS["lstm"], name="toy", native=None, scans={})
    monkeypatch.setitem(CELLS, "toy", plain)
    assert plain.impls == ("eager", "script", "compiled", "derived")
    for impl in ("native", "parallel"):
        with pytest.raises(ValueError, match=f"impl='{impl}' is not accepted for cell 'toy': "
                                             "it has eager, script, compiled, derived"):
            build("toy", impl, 3, 4)
    out, (h, c) = build("toy", "eager", 3, 4, bidirectional=True)(torch.randn(5, 2, 3))
    assert out.shape == (5, 2, 8) and h.shape == c.shape == (2, 2, 4)


def test_case_names_carry_the_direction_count() -> None:
    assert cells.parse("bigru") == (CELLS["gru"], 2) and cells.parse("rnn") == (CELLS["rnn"], 1)
    assert cells.label("bilstm") == "BiLSTM" and cells.colour("lstm") == CELLS["lstm"].colour
    assert cells.colour("bilstm") != cells.colour("lstm")
    with pytest.raises(ValueError, match="cell='bitcn'"):
        cells.parse("bitcn")


def test_a_cells_own_init_reaches_its_twin_and_its_layer() -> None:
    """lstmfb: the LSTM with forget-gate bias 1; peephole: peepholes start at zero."""
    for impl in ("native", "eager"):
        model = build("lstmfb", impl, 3, 4, num_layers=2, bidirectional=True)
        for name, param in model.named_parameters():
            if name.startswith("bias_ih"):
                assert torch.equal(param[4:8], torch.ones(4)), (impl, name)
            if name.startswith("bias_hh"):
                assert torch.equal(param[4:8], torch.zeros(4)), (impl, name)
    peephole = build("peephole", "eager", 3, 4)
    assert not peephole.weight_ci_l0.any() and peephole.weight_hh_l0.any()
