"""Guarded imports for heavy optional runtimes (torch, ultralytics) naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from detection.errors import MissingExtraError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an error naming the ``shirong[extra]`` that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"'{module}' is not installed; it is part of the '{extra}' extra: "
            f"pip install -e '.[{extra}]'"
        ) from exc
