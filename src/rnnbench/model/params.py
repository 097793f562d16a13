"""Closed-form parameter counts of recurrent layers of every registered cell.

Every count here is a pure function of the constructor arguments (as ``nn.LSTM`` takes
them) and the cell's own per-layer closed form (:meth:`rnnbench.model.cells.Cell.count`);
``tests/test_params.py`` checks them against the real modules with hypothesis. Tensor names
and shapes follow ``named_parameters()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnbench.model import cells
from rnnbench.validate import check_positive

#: The deepest stack accepted: far beyond any trained RNN (cuDNN's own examples stop at a
#: few dozen), and small enough that listing every tensor stays instant.
MAX_LAYERS = 1000


def check_stack(hidden_size: object, num_layers: object) -> None:
    """The size rules of a recurrent stack, whatever its cell: positive sizes, at most
    :data:`MAX_LAYERS` layers."""
    check_positive("hidden_size", hidden_size)
    check_positive("num_layers", num_layers)
    if num_layers > MAX_LAYERS:  # type: ignore[operator]  # an int by now
        raise ValueError(f"num_layers={num_layers} is not accepted: expected 1.."
                         f"{MAX_LAYERS} (deeper stacks are not a recurrent layer anyone "
                         "trains, and listing them would take minutes)")


@dataclass(frozen=True)
class RecurrentConfig:
    """The constructor arguments of a PyTorch recurrent layer that decide its size."""

    cell: str
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    bidirectional: bool = False
    proj_size: int = 0

    def __post_init__(self) -> None:
        spec = cells.get(self.cell)
        check_positive("input_size", self.input_size)
        check_stack(self.hidden_size, self.num_layers)
        if self.proj_size and not spec.projects:
            projecting = ", ".join(repr(name) for name, c in cells.CELLS.items() if c.projects)
            raise ValueError(
                f"proj_size={self.proj_size} is only supported for cells {projecting}, "
                f"not {self.cell!r}; use proj_size=0"
            )
        proj = self.proj_size
        if isinstance(proj, bool) or not isinstance(proj, int) or not 0 <= proj < self.hidden_size:
            raise ValueError(f"proj_size={proj!r} is not accepted: expected an integer, 0 <= "
                             f"proj_size < hidden_size={self.hidden_size} (0: no projection)")

    @classmethod
    def named(cls, name: str, input_size: int, hidden_size: int, num_layers: int = 1,
              bias: bool = True) -> RecurrentConfig:
        """A cell as cases and reports name it: ``bilstm`` is the LSTM with two directions."""
        spec, directions = cells.parse(name)
        return cls(spec.name, input_size, hidden_size, num_layers, bias, directions == 2)

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features of ``h`` per direction: ``proj_size`` if projecting, else ``hidden_size``."""
        return self.proj_size or self.hidden_size


def parameter_shapes(config: RecurrentConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter tensor, named and shaped exactly as ``named_parameters()`` yields them.

    Layer ``l`` in direction ``d`` (suffix ``_reverse`` for ``d = 1``) holds the cell's tensors
    (:meth:`rnnbench.model.cells.Cell.shapes`; for the gated cells, with ``G`` blocks:
    ``weight_ih (G*H, I or D*R)``, ``weight_hh (G*H, R)``, ``bias_ih``, ``bias_hh (G*H,)``),
    where ``R`` is the output size (``proj_size`` or ``hidden_size``) and layers above the
    first see the concatenated outputs of all ``D`` directions; plus ``weight_hr_l{l}``
    ``(P, H)`` with ``proj_size = P > 0``. PyTorch keeps two bias vectors where the maths
    needs one, because cuDNN does.
    """
    cell, hidden, out = cells.get(config.cell), config.hidden_size, config.output_size
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(config.num_layers):
        layer_input = config.input_size if layer == 0 else config.directions * out
        for direction in range(config.directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            for name, shape in cell.shapes(layer_input, hidden, config.bias, out).items():
                shapes[name + suffix] = shape
            if config.proj_size:
                shapes[f"weight_hr{suffix}"] = (config.proj_size, hidden)
    return shapes


def count_parameters(config: RecurrentConfig) -> int:
    """Total parameters of the recurrent layer, in closed form.

    With ``c(X)`` the cell's closed form for one layer and direction reading ``X`` features
    (:meth:`rnnbench.model.cells.Cell.count`), ``R = P or H``, ``D`` directions and ``L`` layers::

        total = D * (c(I) + (L-1) * c(D*R) + L*P*H)

    For the gated cells ``c(X) = G*H*(X + R + 2b)`` (``b = 1`` if biased), so ``nn.LSTM(256,
    128)`` has ``4*128*(256 + 128 + 2) = 197,632``; without biases it is the textbook
    ``4*(I+H)*H = 196,608``.
    """
    cell, h, r, p = (cells.get(config.cell), config.hidden_size, config.output_size,
                     config.proj_size)
    d, n = config.directions, config.num_layers

    def c(features: int) -> int:
        return cell.count(features, h, config.bias, r)

    return d * (c(config.input_size) + (n - 1) * c(d * r) + n * p * h)


@dataclass(frozen=True)
class ClassifierConfig:
    """An embedding, a recurrent stack and a linear head: the article's IMDB model."""

    vocab_size: int
    embed_dim: int
    recurrent: RecurrentConfig
    num_classes: int = 2

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim", "num_classes"):
            check_positive(name, getattr(self, name))
        if self.recurrent.input_size != self.embed_dim:
            raise ValueError(
                f"recurrent.input_size={self.recurrent.input_size} must equal "
                f"embed_dim={self.embed_dim}"
            )


def classifier_breakdown(config: ClassifierConfig) -> dict[str, int]:
    """Parameters of each part of the classifier.

    - embedding: ``V*E``;
    - recurrent: :func:`count_parameters`;
    - head: ``(D*R + 1) * C``: it reads the last layer's final state of every direction,
      concatenated, so a bidirectional head is twice as wide.
    """
    rec = config.recurrent
    return {
        "embedding": config.vocab_size * config.embed_dim,
        "recurrent": count_parameters(rec),
        "head": (rec.directions * rec.output_size + 1) * config.num_classes,
    }


def count_classifier_parameters(config: ClassifierConfig) -> int:
    """Total parameters of the classifier: the sum of :func:`classifier_breakdown`."""
    return sum(classifier_breakdown(config).values())


def vocab_size_for_total(total: int, embed_dim: int, recurrent: RecurrentConfig,
                         num_classes: int = 2) -> float:
    """The vocabulary size that makes a classifier have ``total`` parameters.

    Inverts :func:`count_classifier_parameters` for ``V``; used to show that a set of quoted
    totals implies different vocabularies for models that are meant to share one.
    """
    head = (recurrent.directions * recurrent.output_size + 1) * num_classes
    rest = count_parameters(recurrent) + head
    return (total - rest) / embed_dim
