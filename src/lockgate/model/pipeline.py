"""Pipelines (``pipelines/<name>.yaml``): typed parameters and variables, and a DAG of activities.

Pydantic checks each file's shape; :func:`find_pipeline_problems` checks what needs the whole pipeline or
project (names, dependencies, cycles, variables, expressions, files that do not exist), each at its source
position.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lockgate.errors import Problem
from lockgate.model.activities import (
    Activity,
    ActivityBase,
    ActivityPath,
    AppendVariableActivity,
    Condition,
    Dependency,
    ExecutePipelineActivity,
    ForEachActivity,
    NotebookActivity,
    SetVariableActivity,
    SqlActivity,
    walk_activities,
)
from lockgate.model.expression_refs import find_expression_problems
from lockgate.model.expressions import is_template
from lockgate.model.graph import find_cycle
from lockgate.model.project import Locate, unknown_name_problem
from lockgate.model.value import ValueSpec, ValueType, coerce_value

NOTEBOOK_SUFFIXES = (".py", ".sql", ".ipynb")

__all__ = [
    "NOTEBOOK_SUFFIXES",
    "Condition",
    "Dependency",
    "NotebookActivity",
    "Pipeline",
    "SqlActivity",
    "find_pipeline_problems",
    "resolve_notebook_path",
]


class Pipeline(BaseModel):
    """A pipeline file."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    description: str | None = None
    parameters: dict[str, ValueSpec] = Field(default_factory=dict)
    """Typed parameters; set them with `lockgate run NAME -p key=value`."""
    variables: dict[str, ValueSpec] = Field(default_factory=dict)
    """Typed variables activities set (`set_variable`, `append_variable`) and read (`{{ variables.NAME }}`)."""
    outputs: dict[str, Any] = Field(default_factory=dict)
    """Values (usually expressions) a successful run returns; a parent's `pipeline` activity outputs them."""
    max_parallel: int = Field(default=4, ge=1, le=64)
    """How many activities of one activity list may run at once."""
    concurrency: int | None = Field(default=None, ge=1, le=1000)
    """How many runs of this pipeline may run at once per environment; later runs wait for a slot."""
    activities: tuple[Activity, ...] = Field(min_length=1)
    """The activities, in any order; `depends_on` makes the DAG."""

    def all_activities(self) -> Iterator[tuple[ActivityPath, ActivityBase]]:
        """Every activity, nested ones included, with its path in the file."""
        return walk_activities(self.activities)

    def activity(self, name: str) -> ActivityBase:
        for _, activity in self.all_activities():
            if activity.name == name:
                return activity
        raise KeyError(name)

    @property
    def dependencies(self) -> dict[str, tuple[str, ...]]:
        """Top-level activity name -> the names it depends on."""
        return {a.name: tuple(d.activity for d in a.depends_on) for a in self.activities}


def resolve_notebook_path(reference: str, notebooks: Collection[str]) -> str | None:
    """The project notebook a reference names: exact path, or the path plus a notebook suffix."""
    reference = reference.removeprefix("./")
    if reference in notebooks:
        return reference
    for suffix in NOTEBOOK_SUFFIXES:
        if reference + suffix in notebooks:
            return reference + suffix
    return None


def find_pipeline_problems(
    pipeline: Pipeline,
    locate: Locate,
    *,
    notebooks: Collection[str],
    file_exists: Callable[[str], bool],
) -> list[Problem]:
    """Problems that need the whole pipeline or project: names, dependencies, cycles, variables, expressions."""
    problems: list[Problem] = []
    first_seen: dict[str, ActivityPath] = {}
    for path, activity in pipeline.all_activities():
        if activity.name in first_seen:
            problems.append(
                Problem(
                    f"duplicate activity name {activity.name!r}",
                    locate((*path, "name")),
                    f"the first is at line {locate(first_seen[activity.name]).line}; names must be unique in a "
                    "pipeline, nested activities included",
                )
            )
        first_seen.setdefault(activity.name, path)
    problems += _scope_problems(pipeline.activities, ("activities",), locate)
    for path, activity in pipeline.all_activities():
        for suffix, children in activity.child_scopes():
            problems += _scope_problems(children, (*path, *suffix), locate)
        problems += _variable_problems(activity, path, pipeline.variables, locate)
        if (
            isinstance(activity, ForEachActivity)
            and isinstance(activity.items, str)
            and not is_template(activity.items)
        ):
            problems.append(
                Problem(
                    "`items` must be a list, or an expression that gives one",
                    locate((*path, "items")),
                    "e.g. `items: [a, b]` or `items: \"{{ activity('list').output.childItems }}\"`",
                )
            )
        problems += _source_problems(activity, path, locate, notebooks, file_exists)
    problems += find_expression_problems(pipeline, locate)
    for kind, specs in (("parameter", pipeline.parameters), ("variable", pipeline.variables)):
        for name, spec in specs.items():
            if spec.default is not None:
                try:
                    coerce_value(spec.type, spec.default)
                except ValueError as exc:
                    where = locate((f"{kind}s", name, "default"))
                    problems.append(Problem(f"default of {kind} {name!r}: {exc}", where))
    return problems


def _scope_problems(activities: tuple[Any, ...], path: ActivityPath, locate: Locate) -> list[Problem]:
    """Dependencies within one activity list: known siblings, no self-dependency, no cycle."""
    problems: list[Problem] = []
    names = {activity.name: index for index, activity in enumerate(activities)}
    for index, activity in enumerate(activities):
        for dep_index, dependency in enumerate(activity.depends_on):
            where = locate((*path, index, "depends_on", dep_index))
            if dependency.activity == activity.name:
                problems.append(Problem(f"activity {activity.name!r} depends on itself", where))
            elif dependency.activity not in names:
                problems.append(
                    unknown_name_problem(
                        "activity",
                        dependency.activity,
                        sorted(n for n in names if n != activity.name),
                        where,
                        fix="an activity may only depend on activities of the same list",
                    )
                )
    edges = {a.name: tuple(d.activity for d in a.depends_on if d.activity in names) for a in activities}
    cycle = find_cycle(edges)
    if cycle is not None and len(cycle.path) > 2:
        problems.append(
            Problem(
                f"dependency cycle: {cycle}",
                locate((*path, names[cycle.path[0]], "depends_on")),
                "remove one of these dependencies",
            )
        )
    return problems


def _variable_problems(
    activity: ActivityBase, path: ActivityPath, variables: Mapping[str, ValueSpec], locate: Locate
) -> list[Problem]:
    if not isinstance(activity, SetVariableActivity | AppendVariableActivity):
        return []
    where = locate((*path, "variable"))
    spec = variables.get(activity.variable)
    if spec is None:
        return [
            unknown_name_problem(
                "variable", activity.variable, sorted(variables), where, fix="declare it under `variables:`"
            )
        ]
    if isinstance(activity, AppendVariableActivity) and spec.type != ValueType.array:
        return [
            Problem(
                f"append_variable needs an array variable; {activity.variable!r} is {spec.type.value}",
                where,
                f"declare it as `{activity.variable}: {{type: array}}`, or use set_variable",
            )
        ]
    return []


def _source_problems(
    activity: ActivityBase,
    path: ActivityPath,
    locate: Locate,
    notebooks: Collection[str],
    file_exists: Callable[[str], bool],
) -> list[Problem]:
    if isinstance(activity, NotebookActivity):
        if resolve_notebook_path(activity.notebook, notebooks) is None:
            return [unknown_name_problem("notebook", activity.notebook, sorted(notebooks), locate((*path, "notebook")))]
    elif isinstance(activity, SqlActivity) and activity.file is not None and not file_exists(activity.file):
        return [
            Problem(
                f"SQL file {activity.file!r} does not exist",
                locate((*path, "file")),
                "paths are relative to the project root",
            )
        ]
    return []


def find_child_pipeline_problems(
    pipelines: Mapping[str, Pipeline], locators: Mapping[str, Locate], known: Collection[str]
) -> list[Problem]:
    """`pipeline` activities: the child exists (``known`` also holds pipelines whose files have problems),
    parameters it declares, literal values of the right type, and no pipeline running itself through others."""
    problems: list[Problem] = []
    edges: dict[str, list[str]] = {}
    where_called: dict[tuple[str, str], ActivityPath] = {}
    for name, pipeline in pipelines.items():
        locate = locators[name]
        edges[name] = []
        for path, activity in pipeline.all_activities():
            if not isinstance(activity, ExecutePipelineActivity):
                continue
            child = pipelines.get(activity.pipeline)
            if activity.pipeline not in known:
                problems.append(
                    unknown_name_problem("pipeline", activity.pipeline, sorted(known), locate((*path, "pipeline")))
                )
                continue
            edges[name].append(activity.pipeline)
            where_called.setdefault((name, activity.pipeline), path)
            if child is not None:
                problems += _child_parameter_problems(activity, child, path, locate)
    cycle = find_cycle(edges)
    if cycle is not None:
        first, second = cycle.path[0], cycle.path[1]
        path = where_called[(first, second)]
        problems.append(
            Problem(
                f"pipelines run each other in a cycle: {cycle}",
                locators[first]((*path, "pipeline")),
                "a pipeline cannot run itself, directly or through other pipelines",
            )
        )
    return problems


def _child_parameter_problems(
    activity: ExecutePipelineActivity, child: Pipeline, path: ActivityPath, locate: Locate
) -> list[Problem]:
    problems: list[Problem] = []
    for name, value in activity.parameters.items():
        spec = child.parameters.get(name)
        where = locate((*path, "parameters", name))
        if spec is None:
            problems.append(
                unknown_name_problem(
                    "parameter",
                    name,
                    sorted(child.parameters),
                    where,
                    fix=f"pipeline {activity.pipeline!r} declares them",
                )
            )
        elif not (isinstance(value, str) and is_template(value)):
            try:
                coerce_value(spec.type, value)
            except ValueError as exc:
                problems.append(Problem(f"parameter {name!r} of pipeline {activity.pipeline!r}: {exc}", where))
    for name, spec in child.parameters.items():
        if spec.is_required and name not in activity.parameters:
            problems.append(
                Problem(
                    f"pipeline {activity.pipeline!r} needs parameter {name!r}",
                    locate((*path, "parameters")) if activity.parameters else locate(path),
                    f"add `parameters: {{{name}: ...}}` ({spec.type.value})",
                )
            )
    return problems
