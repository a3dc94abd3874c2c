"""What every activity has: a name, dependencies with ADF's conditions, and a policy (timeout, retries)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from lockgate.model.duration import Duration

ActivityPath = tuple[str | int, ...]
"""Where an activity is in its pipeline file: `("activities", 2)`, or nested `("activities", 2, "if_true", 0)`."""


class Condition(StrEnum):
    """When a dependency lets its dependent run (Azure Data Factory semantics)."""

    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"
    completed = "completed"


class Dependency(BaseModel):
    """``{activity: name, conditions: [succeeded]}``; a bare name means ``succeeded``.

    Conditions listed on one dependency are alternatives (any may hold); dependencies on several activities
    must all hold.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    activity: str
    conditions: tuple[Condition, ...] = Field(default=(Condition.succeeded,), min_length=1)

    @field_validator("conditions")
    @classmethod
    def _completed_stands_alone(cls, value: tuple[Condition, ...]) -> tuple[Condition, ...]:
        if Condition.completed in value and ({Condition.succeeded, Condition.failed} & set(value)):
            raise ValueError(
                "`completed` already means succeeded or failed; it cannot be combined with either\n"
                "hint: use [completed], or [succeeded, failed] (as Azure Data Factory also requires)"
            )
        return tuple(dict.fromkeys(value))


def _dependency_from_name(value: Any) -> Any:
    return {"activity": value} if isinstance(value, str) else value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | dict) else value


class ActivityBase(BaseModel):
    """Fields every activity type has."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field(min_length=1, max_length=255)
    """Unique within the pipeline (nested activities included); expressions read `activity('name').output`."""
    description: str | None = None
    depends_on: Annotated[
        tuple[
            Annotated[Dependency, BeforeValidator(_dependency_from_name, json_schema_input_type=str | Dependency)], ...
        ],
        BeforeValidator(_as_list),
    ] = ()
    """Activities that must finish first: names, or `{activity, conditions}`."""
    timeout: Duration | None = None
    """Stop the activity after this long (`30s`, `10m`, `2h`) and fail it; the retries then apply."""
    retry: int = Field(default=0, ge=0, le=100)
    """Extra attempts after a failure that may pass on a retry (not for bad input or a failed `error` check)."""
    retry_interval: Duration = 30.0
    """Wait before the first retry."""
    retry_backoff: float = Field(default=1.0, ge=1.0, le=10.0)
    """Multiply the wait by this after each retry (2 doubles it)."""

    def child_scopes(self) -> list[tuple[ActivityPath, tuple[Any, ...]]]:
        """Nested activity lists (for containers), each with its field path below this activity."""
        return []

    @property
    def stops_cooperatively(self) -> bool:
        """Whether the activity walks activities of its own, which it stops when told (rather than being
        interrupted mid-statement, which would leave their records half-written)."""
        return bool(self.child_scopes())
