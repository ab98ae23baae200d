"""The data package's errors (a user error: the CLI prints the message and exits 2)."""

from __future__ import annotations


class DataError(Exception):
    """A dataset could not be found or read; the message names the file (and line) or every place tried."""


class DataNotFound(DataError, FileNotFoundError):
    """No place held the dataset; the message lists every place that was tried."""
