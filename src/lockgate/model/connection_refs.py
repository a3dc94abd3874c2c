"""Static checks of the connections a pipeline's activities name, before anything runs.

Each `connection:` field must name a connection of `lockgate.yaml`, of the type its activity needs: files
(`copy`, `lookup`, `get_metadata`) need `type: local`, `web` needs `type: http`. A name holding an expression is
checked when it is rendered, at run time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lockgate.errors import Problem
from lockgate.model.activities import (
    ActivityBase,
    ActivityPath,
    CopyActivity,
    FileLocation,
    GetMetadataActivity,
    LookupActivity,
    WebActivity,
)
from lockgate.model.expressions import is_template
from lockgate.model.project import Locate, unknown_name_problem
from lockgate.model.suggest import format_choices

if TYPE_CHECKING:
    from lockgate.model.pipeline import Pipeline


def find_connection_problems(pipeline: Pipeline, connections: Mapping[str, Any], locate: Locate) -> list[Problem]:
    """Unknown connections and connections of the wrong type, each at its `connection:` field.

    Args:
        pipeline: A structurally valid pipeline.
        connections: The project's connections by name (``ProjectConfig.connections``).
        locate: Maps a field path of the pipeline file to its position.
    """
    problems: list[Problem] = []
    for path, activity in pipeline.all_activities():
        for field, name, needed, role in connection_uses(activity):
            if is_template(name):
                continue
            where = locate((*path, *field))
            connection = connections.get(name)
            if connection is None:
                fix = "declare it under `connections:` in lockgate.yaml"
                problems.append(unknown_name_problem("connection", name, sorted(connections), where, fix=fix))
            elif connection.type != needed:
                fitting = sorted(key for key, value in connections.items() if value.type == needed)
                hint = f"connections of type {needed!r}: {format_choices(fitting)}" if fitting else None
                problems.append(
                    Problem(
                        f"connection {name!r} is of type {connection.type!r}, but {role} needs a connection of type "
                        f"{needed!r}",
                        where,
                        hint or f"declare a `type: {needed}` connection under `connections:` in lockgate.yaml",
                    )
                )
    return problems


def connection_uses(activity: ActivityBase) -> Iterator[tuple[ActivityPath, str, str, str]]:
    """``(field path, connection name, type needed, what needs it)`` for each connection ``activity`` names."""
    if isinstance(activity, CopyActivity):
        for side, location in (("source", activity.source), ("sink", activity.sink)):
            if isinstance(location, FileLocation):
                yield (side, "connection"), location.connection, "local", f"a copy {side}"
    elif isinstance(activity, LookupActivity) and isinstance(activity.source, FileLocation):
        yield ("source", "connection"), activity.source.connection, "local", "a lookup source"
    elif isinstance(activity, GetMetadataActivity):
        yield ("connection",), activity.connection, "local", "a get_metadata activity"
    elif isinstance(activity, WebActivity):
        yield ("connection",), activity.connection, "http", "a web activity"
