"""Shared test helpers: the corpus location, synthetic logs, one diagnosis per log."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # tests/synthetic.py

CORPUS = HERE / "data" / "corpus" / "runs"


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the synthetic logs of this session."""
    return tmp_path_factory.mktemp("synthetic")
