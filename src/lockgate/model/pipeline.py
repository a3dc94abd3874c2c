"""Pipelines (``pipelines/<name>.yaml``): typed parameters and a DAG of activities.

Pydantic checks each file's shape; :func:`find_pipeline_problems` checks what needs the whole project (unknown
dependencies, cycles, duplicate names, notebooks and files that do not exist), each at its source position.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lockgate.errors import Problem
from lockgate.model.graph import find_cycle
from lockgate.model.project import Locate, unknown_name_problem
from lockgate.model.value import ValueSpec

NOTEBOOK_SUFFIXES = (".py", ".sql", ".ipynb")


class Condition(StrEnum):
    """When a dependency lets its dependent run (Azure Data Factory semantics)."""

    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"
    completed = "completed"


class Dependency(BaseModel):
    """``{activity: name, conditions: [succeeded]}``; a bare name means ``succeeded``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    activity: str
    conditions: tuple[Condition, ...] = (Condition.succeeded,)


def _dependency_from_name(value: Any) -> Any:
    return {"activity": value} if isinstance(value, str) else value


class _ActivityBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """Unique within the pipeline; other activities name it in `depends_on`."""
    description: str | None = None
    depends_on: Annotated[
        tuple[
            Annotated[Dependency, BeforeValidator(_dependency_from_name, json_schema_input_type=str | Dependency)], ...
        ],
        BeforeValidator(lambda value: [value] if isinstance(value, str) else value),
    ] = ()
    """Activities that must finish first: names, or `{activity, conditions}`."""


class NotebookActivity(_ActivityBase):
    """Runs a notebook (`.py`, `.sql`, `.ipynb`, Databricks source) with widget values."""

    type: Literal["notebook"]
    notebook: str
    """Path from the project root; the extension may be left out."""
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Widget values; strings may hold `{{ expressions }}`."""


class SqlActivity(_ActivityBase):
    """Runs Spark SQL statements, inline (`sql:`) or from a file (`file:`)."""

    type: Literal["sql"]
    sql: str | None = None
    """Statements to run, separated by `;`."""
    file: str | None = None
    """A `.sql` file from the project root."""
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Values for `${name}` and `:name` references in the SQL."""

    @model_validator(mode="after")
    def _exactly_one_source(self) -> SqlActivity:
        if (self.sql is None) == (self.file is None):
            raise ValueError(
                "a sql activity needs exactly one of `sql:` (inline) or `file:`\nhint: e.g. `file: sql/gold.sql`"
            )
        return self


Activity = Annotated[NotebookActivity | SqlActivity, Field(discriminator="type")]


class Pipeline(BaseModel):
    """A pipeline file."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    description: str | None = None
    parameters: dict[str, ValueSpec] = Field(default_factory=dict)
    """Typed parameters; set them with `lockgate run NAME -p key=value`."""
    max_parallel: int = Field(default=4, ge=1, le=64)
    """How many activities may run at once."""
    activities: tuple[Activity, ...] = Field(min_length=1)
    """The activities, in any order; `depends_on` makes the DAG."""

    def activity(self, name: str) -> NotebookActivity | SqlActivity:
        for activity in self.activities:
            if activity.name == name:
                return activity
        raise KeyError(name)

    @property
    def dependencies(self) -> dict[str, tuple[str, ...]]:
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
    """Problems that need the whole pipeline or project: names, dependencies, cycles, missing files."""
    problems: list[Problem] = []
    names: dict[str, int] = {}
    for index, activity in enumerate(pipeline.activities):
        if activity.name in names:
            problems.append(
                Problem(
                    f"duplicate activity name {activity.name!r}",
                    locate(("activities", index, "name")),
                    f"the first is activity #{names[activity.name] + 1}; names must be unique",
                )
            )
        names.setdefault(activity.name, index)
    for index, activity in enumerate(pipeline.activities):
        for dep_index, dependency in enumerate(activity.depends_on):
            if dependency.activity not in names:
                problems.append(
                    unknown_name_problem(
                        "activity", dependency.activity, names, locate(("activities", index, "depends_on", dep_index))
                    )
                )
            elif dependency.activity == activity.name:
                problems.append(
                    Problem(
                        f"activity {activity.name!r} depends on itself",
                        locate(("activities", index, "depends_on", dep_index)),
                    )
                )
        problems.extend(_source_problems(activity, index, locate, notebooks, file_exists))
    cycle = find_cycle({name: deps for name, deps in pipeline.dependencies.items() if name in names})
    if cycle is not None and len(cycle.path) > 2:
        first = cycle.path[0]
        problems.append(
            Problem(
                f"dependency cycle: {cycle}",
                locate(("activities", names[first], "depends_on")),
                "remove one of these dependencies",
            )
        )
    return problems


def _source_problems(
    activity: NotebookActivity | SqlActivity,
    index: int,
    locate: Locate,
    notebooks: Collection[str],
    file_exists: Callable[[str], bool],
) -> list[Problem]:
    if isinstance(activity, NotebookActivity):
        if resolve_notebook_path(activity.notebook, notebooks) is None:
            return [
                unknown_name_problem(
                    "notebook", activity.notebook, sorted(notebooks), locate(("activities", index, "notebook"))
                )
            ]
    elif activity.file is not None and not file_exists(activity.file):
        return [
            Problem(
                f"SQL file {activity.file!r} does not exist",
                locate(("activities", index, "file")),
                "paths are relative to the project root",
            )
        ]
    return []
