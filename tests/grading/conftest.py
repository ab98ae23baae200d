"""Shared helpers for the grading tests: where the benchmark data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def data_dir() -> Path | None:
    """The folder in `TRL_REASONING_DATA_DIR` (the full benchmark files), or None when it is not set."""
    configured = os.environ.get("TRL_REASONING_DATA_DIR")
    return Path(configured) if configured else None


@pytest.fixture
def shared_data() -> Path:
    directory = data_dir()
    if directory is None:
        pytest.skip("needs the full benchmark files: set TRL_REASONING_DATA_DIR")
    if not (directory / "math500.jsonl").exists():
        pytest.skip(f"needs the full benchmark files: no math500.jsonl in TRL_REASONING_DATA_DIR={directory}")
    return directory
