"""The closed-form counts equal what PyTorch's own modules hold."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from rnnbench import build
from rnnbench.cli import main
from rnnbench.model.cells import CELLS
from rnnbench.model.params import (
    ClassifierConfig,
    RecurrentConfig,
    classifier_breakdown,
    count_classifier_parameters,
    count_parameters,
    parameter_shapes,
    vocab_size_for_total,
)


@st.composite
def configs(draw: st.DrawFn) -> RecurrentConfig:
    cell = draw(st.sampled_from(list(CELLS)))
    hidden = draw(st.integers(1, 24))
    proj = draw(st.integers(0, hidden - 1)) if CELLS[cell].projects else 0
    return RecurrentConfig(
        cell=cell,
        input_size=draw(st.integers(1, 24)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, 4)),
        bias=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
        proj_size=proj,
    )


def torch_module(config: RecurrentConfig) -> nn.Module:
    kwargs = dict(
        input_size=config.input_size, hidden_size=config.hidden_size,
        num_layers=config.num_layers, bias=config.bias, bidirectional=config.bidirectional,
    )
    spec = CELLS[config.cell]
    if config.proj_size:
        kwargs["proj_size"] = config.proj_size
    if spec.native is None:  # no torch.nn twin: the registry's own layer
        return build(config.cell, "eager", **kwargs)
    return spec.native(**kwargs, **spec.native_kwargs)


@given(configs())
def test_count_equals_module(config: RecurrentConfig) -> None:
    module = torch_module(config)
    assert count_parameters(config) == sum(p.numel() for p in module.parameters())


@given(configs())
def test_breakdown_equals_named_parameters(config: RecurrentConfig) -> None:
    module = torch_module(config)
    expected = {name: tuple(p.shape) for name, p in module.named_parameters()}
    assert parameter_shapes(config) == expected
    assert list(parameter_shapes(config)) == list(expected)  # same order too


def test_known_examples() -> None:
    assert count_parameters(RecurrentConfig("lstm", 256, 128)) == 197_632
    assert count_parameters(RecurrentConfig("gru", 256, 128)) == 148_224
    # The textbook count leaves out the biases: 4(I+H)H and 3(I+H)H.
    assert count_parameters(RecurrentConfig("lstm", 256, 128, bias=False)) == 4 * 384 * 128
    assert count_parameters(RecurrentConfig("gru", 256, 128, bias=False)) == 3 * 384 * 128


@given(
    vocab=st.integers(1, 500),
    embed=st.integers(1, 16),
    config=configs(),
    classes=st.integers(1, 5),
)
def test_classifier_total_equals_module(vocab: int, embed: int, config: RecurrentConfig,
                                        classes: int) -> None:
    rec = RecurrentConfig(config.cell, embed, config.hidden_size, config.num_layers,
                          config.bias, config.bidirectional, config.proj_size)
    model = nn.ModuleList([
        nn.Embedding(vocab, embed),
        torch_module(rec),
        nn.Linear(rec.directions * rec.output_size, classes),
    ])
    classifier = ClassifierConfig(vocab, embed, rec, classes)
    assert count_classifier_parameters(classifier) == sum(p.numel() for p in model.parameters())
    assert sum(classifier_breakdown(classifier).values()) == count_classifier_parameters(classifier)


def test_vocab_size_for_total_inverts_the_count() -> None:
    rec = RecurrentConfig("lstm", 256, 128, num_layers=2)
    total = count_classifier_parameters(ClassifierConfig(25_000, 256, rec))
    assert vocab_size_for_total(total, 256, rec) == 25_000


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(cell="lstm", input_size=0, hidden_size=4), ["input_size=0", "positive integer"]),
        (dict(cell="gru", input_size=3, hidden_size=-1), ["hidden_size=-1"]),
        (dict(cell="lstm", input_size=3, hidden_size=4, num_layers=0), ["num_layers=0"]),
        (dict(cell="lstm", input_size=3, hidden_size=4, proj_size=4), ["proj_size=4", "< hidden"]),
        (dict(cell="gru", input_size=3, hidden_size=4, proj_size=2), ["proj_size=2", "'lstm'"]),
        (dict(cell="tcn", input_size=3, hidden_size=4), ["cell='tcn'", "'lstm'", "'gru'"]),
    ],
)
def test_bad_config_names_parameter_and_accepted(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as error:
        RecurrentConfig(**kwargs)
    for word in words:
        assert word in str(error.value)


def test_cli_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params", "lstm", "--input-size", "256", "--hidden-size", "128"]) == 0
    table = capsys.readouterr().out
    assert "weight_ih_l0" in table and "197,632" in table

    argv = ["params", "lstm", "--input-size", "8", "--hidden-size", "6", "--num-layers", "2",
            "--bidirectional", "--proj-size", "3", "--json"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    module = nn.LSTM(8, 6, num_layers=2, bidirectional=True, proj_size=3)
    assert printed["total"] == sum(p.numel() for p in module.parameters())
    assert printed["tensors"] == {n: list(p.shape) for n, p in module.named_parameters()}


def test_cli_no_bias(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params", "gru", "--input-size", "256", "--hidden-size", "128", "--no-bias",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 3 * 384 * 128


@pytest.mark.parametrize(
    "argv",
    [
        ["params", "lstm", "--input-size", "0", "--hidden-size", "4"],
        ["params", "lstm", "--input-size", "4", "--hidden-size", "4", "--proj-size", "4"],
        ["params", "transformer", "--input-size", "4", "--hidden-size", "4"],
    ],
)
def test_cli_bad_input_exits_2_without_traceback(argv: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnbench params: error: ")
    assert "Traceback" not in err



def test_the_cli_accepts_rnn_like_converge_does(capsys) -> None:
    from rnnbench.cli import main

    assert main(["params", "rnn", "--input-size", "256", "--hidden-size", "128", "--json"]) == 0
    assert '"total": 49408' in capsys.readouterr().out


@given(cell=st.sampled_from(list(CELLS)), layer_input=st.integers(1, 30),
       hidden=st.integers(1, 30), bias=st.booleans())
def test_each_cells_closed_form_equals_its_shapes_and_its_layer(cell: str, layer_input: int,
                                                                hidden: int, bias: bool) -> None:
    spec = CELLS[cell]
    shapes = spec.shapes(layer_input, hidden, bias)
    assert spec.count(layer_input, hidden, bias) == sum(
        math.prod(shape) for shape in shapes.values())
    layer = build(cell, "eager", layer_input, hidden, bias=bias)  # the registry's own module
    assert sum(p.numel() for p in layer.parameters()) == spec.count(layer_input, hidden, bias)


def test_the_cli_names_every_registered_cell(capsys) -> None:
    assert main(["params", "nope", "--input-size", "4", "--hidden-size", "4"]) == 2
    err = capsys.readouterr().err
    assert all(f"'{cell}'" in err for cell in CELLS), err
