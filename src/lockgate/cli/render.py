"""Everything the CLI prints: results as tables, CSV or JSON, and errors as place + problem + hint."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from lockgate.errors import EngineError, LockgateError, ProjectError, RunCancelledError, RunFailedError, UserCodeError

if TYPE_CHECKING:
    from lockgate.engine.base import QueryResult
    from lockgate.model.release import Release
    from lockgate.services.project import Project
    from lockgate.services.run_events import RunResult
    from lockgate.services.scaffold import ScaffoldResult
    from lockgate.state import RunRecord

# Piped output (CI logs, `| grep`) gets wide tables instead of wrapped cells.
_out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
_err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200)
_STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "skipped": "yellow",
    "cancelled": "magenta",
    "running": "cyan",
    "queued": "dim",
}


class QueryDialect(StrEnum):
    spark = "spark"
    duckdb = "duckdb"


class ReleaseFormat(StrEnum):
    text = "text"
    json = "json"


class QueryFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 row"``, ``"2,000 rows"``."""
    return f"{count:,} {singular if count == 1 else plural_form or singular + 's'}"


def line(text: str, *, err: bool = False) -> None:
    (_err if err else _out).print(escape(text))


def error(exc: LockgateError) -> None:
    """`error: <place>: <problem>` and `  hint: <fix>` lines on stderr; all problems of a ProjectError."""
    if isinstance(exc, ProjectError):
        count = len(exc.problems)
        _err.print(f"[red]error:[/] {plural(count, 'problem')} in the project", highlight=False)
    for text in str(exc).splitlines():
        if text.startswith("  hint:"):
            _err.print(f"  [cyan]hint:[/]{escape(text.removeprefix('  hint:'))}")
        elif isinstance(exc, ProjectError):
            _err.print(f"  {escape(text)}")
        else:
            _err.print(f"[red]error:[/] {escape(text)}")
    if isinstance(exc, UserCodeError | EngineError) and exc.detail and not isinstance(exc, RunFailedError):
        _err.print(escape(exc.detail.rstrip()), style="dim")


def traceback() -> None:
    _err.print_exception(show_locals=False)


def scaffold(result: ScaffoldResult) -> None:
    _out.print(f"Created project in [bold]{escape(str(result.root))}[/] ({len(result.files)} files).")
    _out.print("Next:")
    _out.print(f"  cd {escape(str(result.root))}")
    _out.print("  lockgate run daily")
    _out.print('  lockgate query "SELECT * FROM gold.encounters_by_month ORDER BY year, month, encounter_type LIMIT 5"')


def run_result(result: RunResult) -> None:
    """The summary after a run; raises RunFailedError / RunCancelledError so the exit code says how it went."""
    table = Table(
        title=f"run {result.run_id} · {result.target} · env {result.environment} · {result.engine}",
        title_justify="left",
    )
    for column in ("activity", "status", "seconds", "rows written"):
        table.add_column(column, justify="right" if column in {"seconds", "rows written"} else "left")
    for outcome in result.activities:
        rows = sum(outcome.rows_written.values())
        table.add_row(
            outcome.name,
            status_markup(outcome.status.value),
            f"{outcome.seconds:.2f}",
            f"{rows:,}" if outcome.rows_written else "",
        )
    _out.print(table)
    status = result.status.value
    _out.print(f"{status_markup(status)} in {result.seconds:.2f}s")
    handled = " (handled: the run went on)" if status == "succeeded" else ""
    for outcome in result.failures:
        if outcome.error is not None:
            _err.print(f"[red]activity {escape(outcome.name)} failed{handled}:[/]")
            for text in str(outcome.error).splitlines():
                _err.print(f"  {escape(text)}")
    if status == "failed":
        codes = {outcome.error.exit_code for outcome in result.failures if outcome.error is not None}
        raise RunFailedError(
            f"run {result.run_id} failed",
            run_id=result.run_id,
            hint=f"see `lockgate runs show {result.run_id}` for logs",
            exit_code=codes.pop() if len(codes) == 1 else None,
        )
    if status == "cancelled":
        raise RunCancelledError(
            f"run {result.run_id} was cancelled",
            run_id=result.run_id,
            hint="tables keep their last committed version; rerun when ready",
        )


def query_result(result: QueryResult, output_format: QueryFormat) -> None:
    if output_format == QueryFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_csv_value(v) for v in row] for row in result.rows)
        return
    if output_format == QueryFormat.json:
        records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        sys.stdout.write(json.dumps(records, default=_json_default, indent=2) + "\n")
        return
    table = Table()
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*[escape(_text(value)) for value in row])
    _out.print(table)
    _out.print(plural(len(result.rows), "row"), style="dim")


def release(built: Release, output_format: ReleaseFormat) -> None:
    if output_format == ReleaseFormat.json:
        sys.stdout.write(json.dumps(built.to_json(), indent=2, default=_json_default) + "\n")
        return
    commit = f"commit {built.commit[:12]}" if built.commit else "no Git commit"
    _out.print(
        f"release [bold]{built.hash[:12]}[/] of {escape(built.project)} for env {built.environment}, "
        f"{commit}{' + uncommitted changes' if built.dirty else ''}"
    )
    _out.print("  " + ", ".join(plural(n, kind) for kind, n in built.counts().items()))
    started = [r.name for r in built.resources if r.kind == "trigger" and r.state == "started"]
    if started:
        _out.print(f"  triggers started here: {escape(', '.join(started))}")


def validation_ok(project: Project) -> None:
    parts = [
        plural(len(project.pipelines), "pipeline"),
        plural(len(project.notebooks), "notebook file"),
        plural(len(project.triggers), "trigger"),
        plural(len(project.config.environments), "environment"),
    ]
    _out.print(f"[green]ok[/] project {escape(project.config.name)}: {', '.join(parts)}")


def runs(records: list[RunRecord]) -> None:
    if not records:
        _out.print("no runs yet; start one with `lockgate run PIPELINE`")
        return
    table = Table()
    for column in ("run id", "target", "env", "engine", "status", "started", "seconds"):
        table.add_column(column, no_wrap=column in {"run id", "started"})
    for record in records:
        table.add_row(
            record.id,
            escape(record.pipeline),
            record.environment,
            record.engine,
            status_markup(record.status.value),
            format_time(record.started_at),
            _duration(record),
        )
    _out.print(table)


def status_markup(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def format_time(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _duration(record: RunRecord) -> str:
    if record.started_at and record.finished_at:
        return f"{(record.finished_at - record.started_at).total_seconds():.2f}"
    return ""


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default)
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def table(renderable: RenderableType) -> None:
    """Print a Rich table (or tree) to stdout."""
    _out.print(renderable)


def markup(text: str) -> None:
    """Print a line of Rich markup to stdout (escape user text in it with `rich.markup.escape`)."""
    _out.print(text)
