"""Control-flow activities: loops, branches, child pipelines, variables, waits and deliberate failures.

Containers (`foreach`, `if`, `switch`, `until`) hold activity lists of their own; each list is a small DAG
with the same dependency rules as the pipeline, and its activities may only depend on siblings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lockgate.model.activities.base import ActivityBase, ActivityPath
from lockgate.model.duration import Duration

if TYPE_CHECKING:
    from lockgate.model.activities import Activity

Scalar = str | int | float | bool


class ForEachActivity(ActivityBase):
    """Runs its activities once per item; `{{ item }}` is the current one."""

    type: Literal["foreach"]
    items: str | list[Any]
    """A list, or an expression giving one (`{{ activity('list').output.childItems }}`)."""
    sequential: bool = False
    """Run one item at a time, in order; otherwise up to `batch_count` at once."""
    batch_count: int = Field(default=20, ge=1, le=50)
    """Items run at once when not sequential."""
    activities: tuple[Activity, ...] = Field(min_length=1)

    def child_scopes(self) -> list[tuple[ActivityPath, tuple[Any, ...]]]:
        return [(("activities",), self.activities)]


class IfActivity(ActivityBase):
    """Runs `if_true` or `if_false` depending on a condition."""

    type: Literal["if"]
    condition: str | bool
    """An expression giving true or false."""
    if_true: tuple[Activity, ...] = ()
    if_false: tuple[Activity, ...] = ()

    @model_validator(mode="after")
    def _has_a_branch(self) -> IfActivity:
        if not self.if_true and not self.if_false:
            raise ValueError("an if activity needs `if_true:` or `if_false:` activities")
        return self

    def child_scopes(self) -> list[tuple[ActivityPath, tuple[Any, ...]]]:
        return [(("if_true",), self.if_true), (("if_false",), self.if_false)]


class SwitchCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    value: Scalar
    """Runs when `on` equals this (compared as text, as in Azure Data Factory)."""
    activities: tuple[Activity, ...] = Field(min_length=1)


class SwitchActivity(ActivityBase):
    """Runs the activities of the case whose value matches `on`, else `default`."""

    type: Literal["switch"]
    on: str | int | bool
    """An expression whose value picks the case."""
    cases: tuple[SwitchCase, ...] = Field(min_length=1)
    default: tuple[Activity, ...] | None = None
    """Runs when no case matches; without it, no match fails the activity (`default: []` does nothing)."""

    @model_validator(mode="after")
    def _distinct_values(self) -> SwitchActivity:
        seen: set[str] = set()
        for case in self.cases:
            if str(case.value) in seen:
                raise ValueError(f"switch case {case.value!r} is listed twice")
            seen.add(str(case.value))
        return self

    def child_scopes(self) -> list[tuple[ActivityPath, tuple[Any, ...]]]:
        scopes: list[tuple[ActivityPath, tuple[Any, ...]]] = [
            (("cases", index, "activities"), case.activities) for index, case in enumerate(self.cases)
        ]
        return [*scopes, (("default",), self.default or ())]


class UntilActivity(ActivityBase):
    """Runs its activities again and again until the condition is true (checked after each pass)."""

    type: Literal["until"]
    condition: str | bool
    """An expression; the loop ends when it gives true."""
    activities: tuple[Activity, ...] = Field(min_length=1)
    timeout: Duration | None = 3600.0
    """The loop fails when it has not ended after this long (default 1h)."""

    def child_scopes(self) -> list[tuple[ActivityPath, tuple[Any, ...]]]:
        return [(("activities",), self.activities)]


class ExecutePipelineActivity(ActivityBase):
    """Runs another pipeline of the project with parameters and waits for it; its `outputs` become this output."""

    type: Literal["pipeline"]
    pipeline: str
    """The child pipeline's name (its file's stem)."""
    parameters: dict[str, Any] = Field(default_factory=dict)

    @property
    def stops_cooperatively(self) -> bool:
        return True


class SetVariableActivity(ActivityBase):
    """Sets a pipeline variable."""

    type: Literal["set_variable"]
    variable: str
    value: Any


class AppendVariableActivity(ActivityBase):
    """Appends a value to an `array` pipeline variable."""

    type: Literal["append_variable"]
    variable: str
    value: Any


class WaitActivity(ActivityBase):
    """Waits."""

    type: Literal["wait"]
    seconds: float | str = Field(default=0)
    """How long: seconds, a duration (`5m`) or an expression."""


class FailActivity(ActivityBase):
    """Fails on purpose with a message and an error code (the run fails unless the failure is handled)."""

    type: Literal["fail"]
    message: str
    error_code: str | int = "Failed"
