"""Fixtures for the state layer: a SQLite state database in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lockgate.state import StateStore


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "project" / ".lockgate" / "state.db"


@pytest.fixture
def state_url(state_path: Path) -> str:
    return f"sqlite:///{state_path}"


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    with StateStore.open(state_url) as store:
        yield store
