"""Triggers (``triggers/<name>.yaml``): what starts a pipeline, and in which environments it is started.

Three kinds, as in Azure Data Factory: ``schedule`` (cron in a time zone), ``window`` (tumbling windows of a
fixed interval from a start time, with a delay and a concurrency limit, which is what backfills are made of)
and ``file`` (a file matching a pattern arrives in a connection). A trigger is *stopped* in every environment
unless ``started_in`` names it, so a new trigger never fires in production by surprise.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, field_validator

from lockgate.errors import Problem
from lockgate.model.project import Locate, unknown_name_problem

_DURATION = re.compile(r"^\s*(?P<value>\d+)\s*(?P<unit>s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> dt.timedelta:
    """``"15m"``, ``"1h"``, ``"1d"``... (or a number of seconds) as a timedelta.

    Raises:
        ValueError: with the accepted forms.
    """
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a duration\nhint: write a number and a unit: 30s, 15m, 1h, 1d or 1w")
    return dt.timedelta(seconds=int(match["value"]) * _UNIT_SECONDS[match["unit"]])


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]


class _TriggerBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    pipeline: str
    """The pipeline this trigger starts."""
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Pipeline parameter values; strings may hold `{{ trigger.* }}` expressions."""
    started_in: tuple[str, ...] = ()
    """Environments where the trigger is started; it is stopped everywhere else."""

    def is_started_in(self, environment: str) -> bool:
        return environment in self.started_in


class ScheduleTrigger(_TriggerBase):
    """Fires at the times of a cron expression, in a time zone."""

    type: Literal["schedule"]
    cron: str
    """Five-field cron expression: minute hour day-of-month month day-of-week."""
    timezone: str = "UTC"
    """IANA time zone the cron expression is read in, e.g. Europe/Amsterdam."""

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(
                f"{value!r} is not a valid cron expression\n"
                "hint: five fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}\nhint: use an IANA name such as UTC or Europe/Amsterdam"
            ) from None
        return value


class WindowTrigger(_TriggerBase):
    """Fires once per fixed-size window, from `start`, after the window has ended plus `delay`."""

    type: Literal["window"]
    interval: Duration
    """Window length: 15m, 1h, 1d..."""
    start: dt.datetime
    """Start of the first window (UTC unless an offset is given)."""
    end: dt.datetime | None = None
    """No window starts at or after this time."""
    delay: Duration = dt.timedelta(0)
    """How long after a window ends its run starts (late data)."""
    max_concurrency: int = Field(default=1, ge=1, le=50)
    """Windows that may run at once, e.g. during a backfill."""

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: dt.timedelta) -> dt.timedelta:
        if value <= dt.timedelta(0):
            raise ValueError("interval must be longer than zero")
        return value


class FileTrigger(_TriggerBase):
    """Fires once for each new file whose path matches a pattern in a connection."""

    type: Literal["file"]
    connection: str
    """The connection to watch."""
    path: str
    """Glob pattern relative to the connection, e.g. `incoming/*.csv`."""


Trigger = Annotated[ScheduleTrigger | WindowTrigger | FileTrigger, Field(discriminator="type")]


class TriggerFile(RootModel[Trigger]):
    """A `triggers/<name>.yaml` file: one trigger."""


def find_trigger_problems(
    trigger: ScheduleTrigger | WindowTrigger | FileTrigger,
    locate: Locate,
    *,
    pipelines: Collection[str],
    environments: Collection[str] | None,
    connections: Collection[str] | None,
) -> list[Problem]:
    """Names a trigger uses that the project does not have (``None``: that part of the project is unknown)."""
    problems: list[Problem] = []
    if trigger.pipeline not in pipelines:
        problems.append(unknown_name_problem("pipeline", trigger.pipeline, sorted(pipelines), locate(("pipeline",))))
    for index, environment in enumerate(trigger.started_in):
        if environments is not None and environment not in environments:
            problems.append(
                unknown_name_problem("environment", environment, sorted(environments), locate(("started_in", index)))
            )
    if isinstance(trigger, FileTrigger) and connections is not None and trigger.connection not in connections:
        problems.append(
            unknown_name_problem(
                "connection",
                trigger.connection,
                sorted(connections),
                locate(("connection",)),
                fix="declare it under `connections:` in lockgate.yaml",
            )
        )
    return problems
