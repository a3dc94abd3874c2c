"""Fixtures for the state layer: a state database on SQLite (a file in ``tmp_path``) or on PostgreSQL.

``state_url`` and ``store`` run each test on both backends; ``sqlite_path`` / ``sqlite_url`` are for tests about
the SQLite file itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from lockgate.state import StateStore

if TYPE_CHECKING:
    import psycopg


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "project" / ".lockgate" / "state.db"


@pytest.fixture
def sqlite_url(sqlite_path: Path) -> str:
    return f"sqlite:///{sqlite_path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest) -> str:
    """A URL for a new, empty state database: a SQLite file, or a fresh database on the test PostgreSQL server."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    with StateStore.open(state_url) as store:
        yield store


@pytest.fixture
def pg_connection(postgres_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A psycopg connection (autocommit) to the database at ``postgres_url``: another process, or a hand-made DB."""
    import psycopg

    url = sa.make_url(postgres_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True) as conn:
        yield conn
