"""rnnbench: what LSTM, GRU and their variants cost and buy on your hardware.

The public names below are imported on first use (PEP 562), so that ``import rnnbench.cli``
does not import torch: the command line imports it inside its error handler, where an early
Ctrl-C exits 130 instead of printing a traceback.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: Public name -> the module that defines it.
_EXPORTS = {
    "CELLS": "rnnbench.cells",
    "IMPL_NAMES": "rnnbench.build",
    "build": "rnnbench.build",
    "ImplUnavailable": "rnnbench.impls",
    "ClassifierConfig": "rnnbench.params",
    "RecurrentConfig": "rnnbench.params",
    "classifier_breakdown": "rnnbench.params",
    "count_classifier_parameters": "rnnbench.params",
    "count_parameters": "rnnbench.params",
    "parameter_shapes": "rnnbench.params",
    "Recurrent": "rnnbench.recurrent",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnnbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


class _Package(types.ModuleType):
    """Keeps ``rnnbench.build`` the function: importing the submodule ``rnnbench.build`` sets
    the package attribute of the same name, which the eager imports used to overwrite."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
