"""The tables of the state database, in SQLAlchemy Core.

Rules: dialect-neutral types only (SQLite and PostgreSQL run the same schema); JSON as ``sa.JSON``; timestamps
as timezone-aware UTC; free text (errors, logs) as ``FreeText``; statuses as plain strings (no database enums, so
adding a status needs no migration).
Every change here needs a migration in ``migrations/versions``; the tests compare the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always binds and returns aware UTC datetimes.

    SQLite keeps no zone (it returns naive values) and PostgreSQL returns the session's zone; both become UTC
    here. Naive values are refused on the way in: they are a bug in the caller.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the state database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the state database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class FreeText(sa.TypeDecorator[str]):
    """``Text`` for text lockgate does not control (errors, captured logs), storable on every backend.

    PostgreSQL's text cannot hold NUL characters (SQLite's can): there they are stored as U+FFFD instead of
    failing the whole write. JSON columns need nothing of the kind: PostgreSQL's ``json`` keeps ``\\u0000``.
    """

    impl = sa.Text()
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is not None and dialect.name == "postgresql" and "\x00" in value:
            return value.replace("\x00", "\ufffd")
        return value


def _json() -> sa.JSON:
    # none_as_null: Python None is stored as SQL NULL, not the JSON literal null.
    return sa.JSON(none_as_null=True)


runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pipeline", sa.String(255), nullable=False),
    sa.Column("target_kind", sa.String(16), nullable=False),
    sa.Column("environment", sa.String(255), nullable=False),
    sa.Column("engine", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("parameters", _json(), nullable=False),
    sa.Column("trigger", sa.String(255), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("error", FreeText(), nullable=True),
    sa.Column("output", _json(), nullable=True),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("process", sa.String(255), nullable=True),
    sa.Column("parent_run_id", sa.String(32), nullable=True),
    sa.Column("rerun_of", sa.String(32), nullable=True),
    sa.Index(None, "started_at"),
    sa.Index(None, "pipeline", "started_at"),
    sa.Index(None, "environment", "started_at"),
    sa.Index(None, "status"),
    sa.Index(None, "parent_run_id"),
)

activity_runs = sa.Table(
    "activity_runs",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("activity", sa.String(255), nullable=False),
    sa.Column("activity_type", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("parameters", _json(), nullable=False),
    sa.Column("output", _json(), nullable=True),
    sa.Column("error", FreeText(), nullable=True),
    sa.Column("log", FreeText(), nullable=False),
    sa.Column("metrics", _json(), nullable=False),
    sa.Column("parent_id", sa.Integer(), nullable=True),
    sa.Column("iteration", sa.String(255), nullable=True),
    sa.Index(None, "run_id", "started_at"),
)

watermarks = sa.Table(
    "watermarks",
    metadata,
    sa.Column("environment", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("value", _json(), nullable=True),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# -- deploys ---------------------------------------------------------------------------------------------------
# Definitions are content-addressed and immutable: releases and deployed resources point at them by hash, so
# a definition deployed to five environments, or in fifty releases, is stored once.

definitions = sa.Table(
    "definitions",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("body", _json(), nullable=False),
)

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("project", sa.String(255), nullable=False),
    sa.Column("environment", sa.String(255), nullable=False),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("dirty", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("resources", _json(), nullable=False),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("environment", sa.String(255), nullable=False),
    sa.Column("project", sa.String(255), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("user", sa.String(255), nullable=False),
    sa.Column("process", sa.String(255), nullable=True),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("release_hash", sa.String(64), nullable=False),
    sa.Column("plan_hash", sa.String(64), nullable=False),
    sa.Column("base_deployment_id", sa.Integer(), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("locked_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("changes", _json(), nullable=False),
    sa.Column("triggers_before", _json(), nullable=False),
    sa.Column("triggers_after", _json(), nullable=False),
    sa.Column("note", FreeText(), nullable=True),
    sa.Column("error", FreeText(), nullable=True),
    sa.Index(None, "environment", "id"),
)

deployed_resources = sa.Table(
    "deployed_resources",
    metadata,
    sa.Column("environment", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("hash", sa.String(64), sa.ForeignKey("definitions.hash"), nullable=False),
    sa.Column("state", sa.String(16), nullable=True),
    sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployments.id"), nullable=False),
)

trigger_states = sa.Table(
    "trigger_states",
    metadata,
    sa.Column("environment", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("set_by", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("environment", sa.String(255), primary_key=True),
    sa.Column("plan_hash", sa.String(64), primary_key=True),
    sa.Column("approved_by", sa.String(255), primary_key=True),
    sa.Column("approved_at", UTCDateTime(), nullable=False),
)
