"""Orchestration: activity runs nest (foreach iterations, branches), runs have parents and reruns, watermarks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("parent_run_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("rerun_of", sa.String(32), nullable=True))
        batch.create_index("ix_runs_parent_run_id", ["parent_run_id"])
    with op.batch_alter_table("activity_runs") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("iteration", sa.String(255), nullable=True))
    op.create_table(
        "watermarks",
        sa.Column("environment", sa.String(255), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("environment", "key", name="pk_watermarks"),
    )


def downgrade() -> None:
    op.drop_table("watermarks")
    with op.batch_alter_table("activity_runs") as batch:
        batch.drop_column("iteration")
        batch.drop_column("parent_id")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_parent_run_id")
        batch.drop_column("rerun_of")
        batch.drop_column("parent_run_id")
