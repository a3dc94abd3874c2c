"""Activity types: one typed model each, discriminated by `type`.

:data:`Activity` is the union a pipeline's `activities` list holds. :func:`walk_activities` visits every
activity of a list, nested ones included, with its path in the pipeline file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import Field

from lockgate.model.activities.base import ActivityBase, ActivityPath, Condition, Dependency
from lockgate.model.activities.check import CheckActivity
from lockgate.model.activities.control import (
    AppendVariableActivity,
    ExecutePipelineActivity,
    FailActivity,
    ForEachActivity,
    IfActivity,
    SetVariableActivity,
    SwitchActivity,
    SwitchCase,
    UntilActivity,
    WaitActivity,
)
from lockgate.model.activities.data import (
    CopyActivity,
    FileLocation,
    GetMetadataActivity,
    Incremental,
    LookupActivity,
    NotebookActivity,
    SqlActivity,
    TableSink,
    TableSource,
    WebActivity,
)

Activity = Annotated[
    NotebookActivity
    | SqlActivity
    | CopyActivity
    | LookupActivity
    | GetMetadataActivity
    | CheckActivity
    | ExecutePipelineActivity
    | ForEachActivity
    | IfActivity
    | SwitchActivity
    | UntilActivity
    | SetVariableActivity
    | AppendVariableActivity
    | WaitActivity
    | FailActivity
    | WebActivity,
    Field(discriminator="type"),
]

for _container in (ForEachActivity, IfActivity, SwitchCase, SwitchActivity, UntilActivity):
    _container.model_rebuild(_types_namespace={"Activity": Activity})

ACTIVITY_TYPES: tuple[str, ...] = (
    "notebook",
    "sql",
    "copy",
    "lookup",
    "get_metadata",
    "check",
    "pipeline",
    "foreach",
    "if",
    "switch",
    "until",
    "set_variable",
    "append_variable",
    "wait",
    "fail",
    "web",
)


def walk_activities(
    activities: tuple[Any, ...], path: ActivityPath = ("activities",)
) -> Iterator[tuple[ActivityPath, ActivityBase]]:
    """Every activity in ``activities`` and nested in them, depth first, with its path in the file."""
    for index, activity in enumerate(activities):
        here = (*path, index)
        yield here, activity
        for suffix, children in activity.child_scopes():
            yield from walk_activities(children, (*here, *suffix))


__all__ = [
    "ACTIVITY_TYPES",
    "Activity",
    "ActivityBase",
    "ActivityPath",
    "AppendVariableActivity",
    "CheckActivity",
    "Condition",
    "CopyActivity",
    "Dependency",
    "ExecutePipelineActivity",
    "FailActivity",
    "FileLocation",
    "ForEachActivity",
    "GetMetadataActivity",
    "IfActivity",
    "Incremental",
    "LookupActivity",
    "NotebookActivity",
    "SetVariableActivity",
    "SqlActivity",
    "SwitchActivity",
    "SwitchCase",
    "TableSink",
    "TableSource",
    "UntilActivity",
    "WaitActivity",
    "WebActivity",
    "walk_activities",
]
