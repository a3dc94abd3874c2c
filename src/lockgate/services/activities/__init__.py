"""Activity types: one module each, registered by `type` in a plain dict.

An activity runner takes the activity's model and an :class:`ActivityContext` and returns the activity's
output (JSON-able), or raises a lockgate error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lockgate.services.activities.context import ActivityContext
from lockgate.services.activities.notebook import run_notebook_activity
from lockgate.services.activities.sql import run_sql_activity

ActivityRunner = Callable[[Any, ActivityContext], Any]

ACTIVITY_RUNNERS: dict[str, ActivityRunner] = {
    "notebook": run_notebook_activity,
    "sql": run_sql_activity,
}

__all__ = ["ACTIVITY_RUNNERS", "ActivityContext", "ActivityRunner"]
