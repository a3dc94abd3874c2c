"""Alembic environment for the state database.

Runs only through :func:`lockgate.state.migration.upgrade_schema`, which passes an open connection (inside a
transaction) in ``config.attributes["connection"]``; there is no ``alembic.ini`` and no offline mode.
"""

from __future__ import annotations

from alembic import context

from lockgate.state.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("lockgate migrations run through lockgate.state.StateStore.open, with a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode recreates the table instead
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
