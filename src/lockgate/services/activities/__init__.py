"""Activity types: one module each, registered by `type` in a plain dict.

An activity runner takes the activity's model and an :class:`ActivityContext` and returns the activity's
output (JSON-able), or raises a lockgate error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lockgate.services.activities.check import run_check_activity
from lockgate.services.activities.context import ActivityContext
from lockgate.services.activities.control import (
    run_append_variable,
    run_fail,
    run_foreach,
    run_if,
    run_pipeline_activity,
    run_set_variable,
    run_switch,
    run_until,
    run_wait,
)
from lockgate.services.activities.copy import run_copy_activity
from lockgate.services.activities.get_metadata import run_get_metadata_activity
from lockgate.services.activities.lookup import run_lookup_activity
from lockgate.services.activities.notebook import run_notebook_activity
from lockgate.services.activities.sql import run_sql_activity
from lockgate.services.activities.web import run_web_activity

ActivityRunner = Callable[[Any, ActivityContext], Any]

ACTIVITY_RUNNERS: dict[str, ActivityRunner] = {
    "notebook": run_notebook_activity,
    "sql": run_sql_activity,
    "check": run_check_activity,
    "pipeline": run_pipeline_activity,
    "foreach": run_foreach,
    "if": run_if,
    "switch": run_switch,
    "until": run_until,
    "set_variable": run_set_variable,
    "append_variable": run_append_variable,
    "wait": run_wait,
    "fail": run_fail,
    "copy": run_copy_activity,
    "lookup": run_lookup_activity,
    "get_metadata": run_get_metadata_activity,
    "web": run_web_activity,
}

__all__ = ["ACTIVITY_RUNNERS", "ActivityContext", "ActivityRunner"]
