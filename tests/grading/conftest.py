"""Shared helpers for the grading tests: where the benchmark data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def data_dir() -> Path:
    """`TRL_REASONING_DATA_DIR`, else `<repo>/../shared/data`."""
    configured = os.environ.get("TRL_REASONING_DATA_DIR")
    if configured:
        return Path(configured)
    return (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()


@pytest.fixture
def shared_data() -> Path:
    directory = data_dir()
    if not (directory / "math500.jsonl").exists():
        pytest.skip(f"benchmark data not found in {directory}; set TRL_REASONING_DATA_DIR to the folder with math500.jsonl")
    return directory
