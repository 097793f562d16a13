"""rnnbench: what LSTM, GRU and their variants cost and buy on your hardware."""

from rnnbench.build import IMPL_NAMES, NATIVE, build
from rnnbench.impls import ImplUnavailable
from rnnbench.params import (
    ClassifierConfig,
    RecurrentConfig,
    classifier_breakdown,
    count_classifier_parameters,
    count_parameters,
    parameter_shapes,
)
from rnnbench.recurrent import Recurrent

__all__ = [
    "IMPL_NAMES",
    "NATIVE",
    "ClassifierConfig",
    "ImplUnavailable",
    "Recurrent",
    "RecurrentConfig",
    "build",
    "classifier_breakdown",
    "count_classifier_parameters",
    "count_parameters",
    "parameter_shapes",
]

__version__ = "0.1.0"
