"""Fixtures for the state layer: a state database on SQLite (a file in ``tmp_path``) or on PostgreSQL.

``store`` runs each test on both backends (through the suite-wide ``state_url``); ``sqlite_path`` /
``sqlite_url`` (also suite-wide) are for tests about the SQLite file itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from lockgate.state import StateStore

if TYPE_CHECKING:
    import psycopg


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
