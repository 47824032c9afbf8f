"""Errors Shirong raises for bad input; each message names the input it is about.

``validation_message`` turns a pydantic ``ValidationError`` into such a message, the same way for
every config, option and setting that pydantic validates, here and in the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pydantic import ValidationError


class ShirongError(Exception):
    """Base class: every error a user can cause (bad file, bad config, missing extra)."""


class TaxonomyError(ShirongError):
    """The taxonomy file is missing or invalid."""


class InputError(ShirongError):
    """An image, video, label or other input file cannot be used."""


class ModelError(ShirongError):
    """A model file is missing, unreadable or has an unexpected shape."""


class SourceError(ShirongError):
    """A frame source (camera, stream, video) cannot be opened or read."""


class ConfigError(ShirongError):
    """A configuration file is invalid."""


class MissingExtraError(ShirongError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class StoreError(ShirongError):
    """The evidence store cannot be reached or written from here."""


class Layout(NamedTuple):
    """How ``validation_message`` lays errors out: ``line`` per error, joined by ``sep``."""

    line: str
    sep: str


#: On one line: a 422's ``detail``, a CLI option, an option of a source.
INLINE = Layout("{field}: {message}", "; ")
#: One error a line under a heading that names the file.
LISTED = Layout("  {field}: {message}", "\n")
#: Field and message on lines of their own, as pydantic prints them (settings).
STACKED = Layout("{field}\n  {message}", "\n")


def validation_message(
    exc: ValidationError,
    *,
    within: Sequence[str | int] = (),
    top: str = "(top level)",
    layout: Layout = INLINE,
) -> str:
    """A pydantic ``ValidationError`` as the text of a ``ShirongError`` that names every bad field.

    ``field`` is the error's dotted path under ``within`` (``config.zones.0.polygon``), or ``top``
    for the model as a whole; ``message`` is pydantic's text without its "Value error, " prefix.
    The values themselves are left out: a setting or a camera URL may hold a password.
    """
    return layout.sep.join(
        layout.line.format(
            field=".".join(str(p) for p in (*within, *err["loc"])) or top,
            message=err["msg"].removeprefix("Value error, "),
        )
        for err in exc.errors()
    )
