"""Trigger definitions: each kind validates, and a bad one is reported at its place in the file."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import TypeAdapter

from lockgate.model.trigger import ScheduleTrigger, Trigger, WindowTrigger, parse_duration
from lockgate.model.yamlerrors import validate_document
from lockgate.model.yamlsource import parse_yaml

ADAPTER: TypeAdapter[object] = TypeAdapter(Trigger)


def test_schedule_window_and_file_triggers_validate() -> None:
    schedule = ADAPTER.validate_python(
        {
            "type": "schedule",
            "pipeline": "daily",
            "cron": "0 2 * * *",
            "timezone": "Europe/Amsterdam",
            "started_in": ["prod"],
        }
    )
    assert isinstance(schedule, ScheduleTrigger) and schedule.is_started_in("prod")
    assert not schedule.is_started_in("dev")
    window = ADAPTER.validate_python(
        {"type": "window", "pipeline": "daily", "interval": "1h", "start": "2024-01-01T00:00:00", "delay": "15m"}
    )
    assert isinstance(window, WindowTrigger) and window.interval == dt.timedelta(hours=1)
    assert window.delay == dt.timedelta(minutes=15)
    assert (
        ADAPTER.validate_python({"type": "file", "pipeline": "p", "connection": "landing", "path": "in/*.csv"}).type
        == "file"
    )


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (45, 45)])
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_bad_triggers_point_at_the_field() -> None:
    document = parse_yaml(
        "type: schedule\npipeline: daily\ncron: '0 25 * * *'\ntimezone: Mars/Olympus\n", file="triggers/t.yaml"
    )
    model, problems = validate_document(document, ScheduleTrigger)
    assert model is None
    rendered = [str(p) for p in problems]
    assert rendered[0].startswith("triggers/t.yaml:3:7: '0 25 * * *' is not a valid cron expression")
    assert rendered[1].startswith("triggers/t.yaml:4:11: unknown time zone 'Mars/Olympus'")


def test_bad_duration_has_a_hint() -> None:
    document = parse_yaml("type: window\npipeline: p\ninterval: hourly\nstart: 2024-01-01\n", file="t.yaml")
    _, problems = validate_document(document, WindowTrigger)
    assert problems[0].location is not None and problems[0].location.line == 3
    assert problems[0].hint and "15m" in problems[0].hint
