"""Errors seglab raises for user mistakes; the CLI prints them as one line."""

from __future__ import annotations


class SeglabError(Exception):
    """A problem the user can fix: bad input, bad parameters, a failed run."""


class InputError(SeglabError):
    """An input file cannot be read or does not fit the canonical schema."""


class ConfigError(SeglabError):
    """A parameter, column mapping or params file is invalid."""


class RunError(SeglabError):
    """A study run could not complete (a notebook failed)."""


class LockedError(SeglabError):
    """Another run is writing to the same reports folder."""


class DataWarning(UserWarning):
    """A recoverable oddity in the data that seglab worked around (rows dropped)."""
