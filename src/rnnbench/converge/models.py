"""The models trained for convergence: an input encoder, a recurrent stack and a linear head.

The stack is one-layer recurrences (``rnnbench.build``), one per layer and direction, with
dropout between layers as ``nn.LSTM(dropout=p)`` applies it; its parameter count equals the
multi-layer twin's. Cells are named as in the benchmark grid (``bilstm``: two directions).

Why not one bidirectional ``nn.LSTM``: on a padded batch its reverse direction starts at the
padding, and a ``PackedSequence`` that would fix it costs 4-5x the time on CPU
(:mod:`rnnbench.converge.batches`). Here the reverse direction reads each sequence reversed
*within its own length*, and the readout concatenates the forward direction's state at step
``length - 1`` and the reverse direction's after it has read back to step 0, as the head of
:func:`rnnbench.model.params.classifier_breakdown` expects. Padded steps only ever follow a
sequence's real steps, so they change no output that is read.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnbench.model import cells
from rnnbench.model.build import build
from rnnbench.model.params import (
    ClassifierConfig,
    RecurrentConfig,
    classifier_breakdown,
    count_parameters,
)

#: The case names ``rnnbench converge --cells`` accepts: each cell, one or two directions.
CASE_NAMES: list[str] = cells.names()


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Each sequence of ``x (B, T, F)`` reversed within its first ``lengths[b]`` steps.

    Padding stays where it is; applying it twice gives ``x`` back.
    """
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, T)
    ends = lengths.to(x.device).unsqueeze(1)  # (B, 1)
    source = torch.where(steps < ends, ends - 1 - steps, steps)  # (B, T)
    return x.gather(1, source.unsqueeze(2).expand_as(x))


class RecurrentStack(nn.Module):
    """``num_layers`` x directions one-layer recurrences over padded ``(B, T, I)`` batches."""

    def __init__(self, cell: str, impl: str, input_size: int, hidden_size: int,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.config = RecurrentConfig.named(cell, input_size, hidden_size, num_layers)
        spec = cells.get(self.config.cell)
        # A cell without a torch.nn twin trains with its own default implementation.
        self.impl = spec.default_impl if impl == "native" and spec.native is None else impl
        self.dropout = dropout
        self.layers = nn.ModuleList(nn.ModuleList(
            build(spec.name, self.impl, input_size if layer == 0 else self.output_size,
                  hidden_size, batch_first=True)
            for _ in range(self.config.directions)
        ) for layer in range(num_layers))

    @property
    def output_size(self) -> int:
        return self.config.directions * self.config.hidden_size

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``x (B, T, I)`` -> outputs ``(B, T, D*H)`` and final states ``(B, D*H)``."""
        batch = torch.arange(x.shape[0], device=x.device)
        last = (lengths - 1).to(x.device)  # (B,)
        finals: list[Tensor] = []
        for index, directions in enumerate(self.layers):
            outputs, finals = [], []
            for direction, layer in enumerate(directions):
                source = reverse_padded(x, lengths) if direction else x
                out, _ = layer(source)  # (B, T, H)
                finals.append(out[batch, last])  # its state after its last true step
                outputs.append(reverse_padded(out, lengths) if direction else out)
            x = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]  # (B, T, D*H)
            if index < len(self.layers) - 1 and self.dropout:
                x = F.dropout(x, self.dropout, self.training)
        return x, torch.cat(finals, dim=1)


class OneHot(nn.Module):
    """Symbols ``(B, T)`` -> one-hot floats ``(B, T, classes)``; no parameters."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.classes = classes

    def forward(self, symbols: Tensor) -> Tensor:
        return F.one_hot(symbols, self.classes).float()


class ConvergenceModel(nn.Module):
    """``encoder -> RecurrentStack -> Linear``, read at the final state or at every step.

    ``forward(inputs, lengths)`` returns ``(B, C)`` (``per_step=False``; ``C = 1`` is squeezed
    away for regression) or ``(B, T, C)`` (``per_step=True``).
    """

    def __init__(self, encoder: nn.Module, stack: RecurrentStack, outputs: int,
                 per_step: bool = False) -> None:
        super().__init__()
        self.encoder, self.stack, self.per_step = encoder, stack, per_step
        self.head = nn.Linear(stack.output_size, outputs)

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        steps, final = self.stack(self.encoder(inputs), lengths)
        out = self.head(steps if self.per_step else final)
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def classifier(cell: str, impl: str, vocab_size: int, embed_dim: int, hidden_size: int,
               num_layers: int, dropout: float, classes: int = 2) -> ConvergenceModel:
    """The article's sentiment model: embedding, recurrent stack, linear head."""
    stack = RecurrentStack(cell, impl, embed_dim, hidden_size, num_layers, dropout)
    return ConvergenceModel(nn.Embedding(vocab_size, embed_dim, padding_idx=0), stack, classes)


def parameter_record(model: ConvergenceModel) -> dict[str, object]:
    """Closed-form parameter breakdown (:mod:`~rnnbench.model.params`) beside the module's
    own count."""
    recurrent = model.stack.config
    if isinstance(model.encoder, nn.Embedding):
        breakdown = classifier_breakdown(ClassifierConfig(
            model.encoder.num_embeddings, model.encoder.embedding_dim, recurrent,
            model.head.out_features,
        ))
    else:
        breakdown = {"embedding": 0, "recurrent": count_parameters(recurrent),
                     "head": (model.stack.output_size + 1) * model.head.out_features}
    return {
        "breakdown": breakdown,
        "total": sum(breakdown.values()),
        "module": sum(p.numel() for p in model.parameters()),
    }
