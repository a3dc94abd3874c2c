"""One unit test: write its given tables to a scratch lake, run its notebook or pipeline, compare the tables.

The suite around it (discovery, selection, the scratch folder and state store) is :mod:`lockgate.services.testing`.
The run goes through the public runner (:func:`~lockgate.services.runner.run_notebook` /
:func:`~lockgate.services.runner.run_pipeline`) in the scratch environment of
:mod:`lockgate.services.scratch`, so a test exercises exactly what `lockgate run` does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockgate.engine import get_engine
from lockgate.engine.base import EngineSession, LakeTarget
from lockgate.errors import LockgateError, SourceLocation, UserCodeError
from lockgate.model.suggest import did_you_mean
from lockgate.model.unit_test import ExpectedTable, UnitTest
from lockgate.model.yamlsource import YamlDocument, YamlPath
from lockgate.services.project import Project
from lockgate.services.row_diff import compare_rows, render_row_diff
from lockgate.services.run_events import RunResult
from lockgate.services.runner import run_notebook, run_pipeline
from lockgate.services.scratch import (
    SCRATCH_ENVIRONMENT,
    read_expected_rows,
    read_table,
    scratch_project,
    scratch_target,
    write_given_table,
)
from lockgate.services.settings import Settings
from lockgate.state import RunStatus, StateStore

__all__ = ["UnitTestOutcome", "UnitTestSource", "run_unit_test"]


@dataclass(frozen=True, slots=True)
class UnitTestSource:
    """A valid unit test with the file it came from."""

    name: str
    file: str
    """Project-relative path of the test file."""
    folder: Path
    """The test file's folder: fixture `file:` paths are relative to it."""
    test: UnitTest
    document: YamlDocument
    path: YamlPath = ()
    """Where the test is in the document: `()`, or `("tests", index)`."""

    def locate(self, *keys: str | int) -> SourceLocation:
        return self.document.locate((*self.path, *keys))


@dataclass(frozen=True, slots=True)
class UnitTestOutcome:
    status: str
    """`passed`, `failed` (the tables differ, or the run did not fail as expected) or `error` (cannot judge)."""
    message: str = ""
    detail: str = ""
    location: SourceLocation | None = None


def run_unit_test(
    project: Project,
    source: UnitTestSource,
    *,
    lake: Path,
    store: StateStore,
    engine: str | None = None,
    environment: str | None = None,
    settings: Settings | None = None,
) -> UnitTestOutcome:
    """Run ``source``'s test with ``lake`` (an empty folder) as its lake, recording the run in ``store``.

    Raises:
        KeyboardInterrupt: the run was cancelled (Ctrl-C): the suite stops.
    """
    scratch = scratch_project(project, lake, base_environment=environment)
    engine_name, target = scratch_target(scratch, engine=engine)
    problem = _write_given(source, engine_name, target)
    if problem is not None:
        return problem
    try:
        result = _run(scratch, source.test, store=store, engine=engine, settings=settings)
    except LockgateError as exc:
        return UnitTestOutcome("error", exc.message, str(exc), source.locate(_target_key(source.test)))
    if result.status == RunStatus.cancelled:
        raise KeyboardInterrupt
    verdict = _judge_run(source, result)
    if verdict is not None:
        return verdict
    failures: list[tuple[str, str]] = []
    with get_engine(engine_name).open_session(target) as session:
        for table, expected in source.test.expect.items():
            try:
                failure = _compare_table(session, table, expected, source, result)
            except LockgateError as exc:  # an unreadable expected file, a table that cannot be read
                where = source.locate("expect", table)
                message = f"expected table {table}: {exc.message}"
                return UnitTestOutcome("error", message, f"{where}: {message}", where)
            if failure is not None:
                failures.append(failure)
    if not failures:
        return UnitTestOutcome("passed")
    message = "; ".join(summary for summary, _ in failures)
    return UnitTestOutcome("failed", message, "\n".join(detail for _, detail in failures), source.locate())


def _write_given(source: UnitTestSource, engine_name: str, target: LakeTarget) -> UnitTestOutcome | None:
    """Write the given tables; an error outcome (at the table in the test file) when one cannot be written."""
    if not source.test.given:
        return None
    with get_engine(engine_name).open_session(target) as session:
        for table, given in source.test.given.items():
            try:
                write_given_table(session, table, given, folder=source.folder)
            except LockgateError as exc:
                where = source.locate("given", table)
                message = f"given table {table}: {exc.message}"
                detail = f"{where}: {message}" + (f"\n  hint: {exc.hint}" if exc.hint else "")
                return UnitTestOutcome("error", message, detail, where)
    return None


def _target_key(test: UnitTest) -> str:
    return "notebook" if test.notebook is not None else "pipeline"


def _run(
    project: Project, test: UnitTest, *, store: StateStore, engine: str | None, settings: Settings | None
) -> RunResult:
    if test.notebook is not None:
        widgets = {name: _widget_text(value) for name, value in test.parameters.items()}
        return run_notebook(
            project,
            test.notebook,
            store=store,
            environment=SCRATCH_ENVIRONMENT,
            widgets=widgets,
            engine=engine,
            settings=settings,
        )
    return run_pipeline(
        project,
        str(test.pipeline),
        store=store,
        environment=SCRATCH_ENVIRONMENT,
        parameters=dict(test.parameters),
        engine=engine,
        settings=settings,
    )


def _widget_text(value: Any) -> str:
    """A YAML value as the text a widget holds (`true`, `2024-03-31`, `` for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _judge_run(source: UnitTestSource, result: RunResult) -> UnitTestOutcome | None:
    """The outcome when the run's success or failure decides it; None when the tables are to be compared."""
    test = source.test
    failed = result.status != RunStatus.succeeded
    error = _run_error(result) if failed else ""
    if not test.expects_failure:
        if failed:
            first = error.splitlines()[0] if error else "the run failed"
            return UnitTestOutcome("error", first, error, source.locate(_target_key(test)))
        return None
    if not failed:
        where = source.locate("expect_failure" if test.expect_failure else "error_contains")
        return UnitTestOutcome("failed", "the run succeeded, but the test expects it to fail", "", where)
    if test.error_contains is not None and test.error_contains not in error:
        where = source.locate("error_contains")
        message = f"the run failed, but its error does not contain {test.error_contains!r}"
        return UnitTestOutcome("failed", message, f"the error was:\n{_indent(error)}", where)
    return None


def _run_error(result: RunResult) -> str:
    """Every failed activity's error (with its hint and, for notebook code, the traceback)."""
    parts: list[str] = []
    for outcome in result.failures:
        if outcome.error is None:
            continue
        # A notebook test's one activity is the notebook, which its error's location already names.
        solo_notebook = outcome.activity_type == "notebook" and len(result.activities) == 1
        text = str(outcome.error) if solo_notebook else f"activity {outcome.name}: {outcome.error}"
        if isinstance(outcome.error, UserCodeError) and outcome.error.detail:
            text += "\n" + _indent(outcome.error.detail.rstrip())
        parts.append(text)
    return "\n".join(parts) or result.error or "the run failed"


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _compare_table(
    session: EngineSession, table: str, expected: ExpectedTable, source: UnitTestSource, result: RunResult
) -> tuple[str, str] | None:
    """``(summary, detail)`` when ``table`` is not as expected, else None."""
    actual = read_table(session, table)
    if actual is None:
        written = sorted({name for outcome in result.activities for name in outcome.rows_written})
        hint = f"the run wrote {', '.join(written)}" if written else "the run wrote no table"
        message = f"{table} does not exist after the run"
        return message, f"{message}\n  hint: {hint}"
    wanted = read_expected_rows(session, expected, folder=source.folder)
    columns = list(wanted.columns) or list(actual.columns)
    positions = {column.lower(): index for index, column in enumerate(actual.columns)}
    missing = [column for column in columns if column.lower() not in positions]
    if missing:
        suggestion = did_you_mean(missing[0], actual.columns)
        noun = "column" if len(missing) == 1 else "columns"
        message = f"{table} has no {noun} {', '.join(repr(column) for column in missing)}"
        hint = (f"did you mean {suggestion!r}? " if suggestion else "") + f"its columns: {', '.join(actual.columns)}"
        return message, f"{message}\n  hint: {hint}"
    indexes = [positions[column.lower()] for column in columns]
    rows = [tuple(row[index] for index in indexes) for row in actual.rows]
    diff = compare_rows(table, columns, wanted.rows, rows, ordered=expected.ordered)
    if diff.is_equal:
        return None
    return diff.summary, render_row_diff(diff)
