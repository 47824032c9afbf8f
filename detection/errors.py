"""Errors Shirong raises for bad input; each message names the input it is about."""

from __future__ import annotations


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
