"""rnnbench: what LSTM, GRU and their variants cost and buy on your hardware.

The public names below are imported on first use (PEP 562), so that ``import rnnbench.cli``
does not import torch: the command line imports it inside its error handler, where an early
Ctrl-C exits 130 instead of printing a traceback.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

#: Public name -> the module that defines it.
_EXPORTS = {
    "CELLS": "rnnbench.model.cells",
    "IMPL_NAMES": "rnnbench.model.build",
    "build": "rnnbench.model.build",
    "ImplUnavailable": "rnnbench.model.errors",
    "ClassifierConfig": "rnnbench.model.params",
    "RecurrentConfig": "rnnbench.model.params",
    "classifier_breakdown": "rnnbench.model.params",
    "count_classifier_parameters": "rnnbench.model.params",
    "count_parameters": "rnnbench.model.params",
    "parameter_shapes": "rnnbench.model.params",
    "Recurrent": "rnnbench.model.recurrent",
}

#: Documented module paths (README, the generated reports) -> where the modules live.
_MODULES = {f"rnnbench.{name}": f"rnnbench.model.{name}" for name in ("build", "cells", "params")}

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
    """Keeps ``rnnbench.build`` the function: importing the module ``rnnbench.build`` sets the
    package attribute of the same name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a documented module path (``from rnnbench.cells import CELLS``) as the very
    module object of :mod:`rnnbench.model` that it names, so both paths share one registry."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(name, self) if name in _MODULES else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return importlib.import_module(_MODULES[spec.name])

    def exec_module(self, module: types.ModuleType) -> None:
        """The module ran when :meth:`create_module` imported it."""


if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Alias())
