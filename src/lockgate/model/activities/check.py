"""The `check` activity: data-quality checks on one table."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lockgate.model.activities.base import ActivityBase
from lockgate.model.checks import Check


class CheckActivity(ActivityBase):
    """Runs data-quality checks on a table; a failing `error` check fails the activity."""

    type: Literal["check"]
    table: str
    """`schema.table` to check."""
    checks: tuple[Check, ...] = ()
    """Checks to run; the table's declared checks (`tables/*.yaml`) run too unless `declared_checks: false`."""
    declared_checks: bool = True
    sample_size: int = Field(default=10, ge=0, le=1000)
    """Failing rows kept in the run record per check."""
