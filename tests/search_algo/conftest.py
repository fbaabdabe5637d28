"""Shared fixtures for the search_algo tests."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture
def custom_blocks_module():
    """examples/custom_blocks.py, loaded (idempotently) into the registry."""
    from search_algo.module_file import load_module_file

    path = Path(__file__).resolve().parents[2] / "examples" / "custom_blocks.py"
    return load_module_file(path)
