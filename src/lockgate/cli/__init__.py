"""The `lockgate` command line: Typer commands that parse options, call one service, and render the result.

`main()` is the one error boundary: lockgate errors become a short message (place, problem, hint) and the
exit code of their branch of the error tree; tracebacks only with `--debug`. Services are imported inside
commands so that `lockgate --help` does not load DuckDB, sqlglot or pyarrow.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from lockgate import __version__
from lockgate.cli import render
from lockgate.cli.commands import build, init, query, run, schema, validate
from lockgate.cli.deploy import approve, deploy, drift, history, plan, promote, rollback, status, trigger_app
from lockgate.cli.options import CliState
from lockgate.cli.runs import runs_app
from lockgate.cli.spark import spark_app
from lockgate.cli.testing import run_tests
from lockgate.errors import LockgateError

app = typer.Typer(
    name="lockgate",
    help="Git-native DataOps: pipelines and notebooks as code, run on DuckDB locally and Spark at scale.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        render.line(f"lockgate {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-C",
            help="Project folder (default: the nearest folder with lockgate.yaml).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks with errors.")] = False,
    state_url: Annotated[
        str | None,
        typer.Option(
            "--state-url",
            help="State database URL (default: LOCKGATE_STATE_URL, then lockgate.yaml's state_url, "
            "then SQLite in .lockgate/).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = CliState(project=project, debug=debug, state_url=state_url)
    CliState.current = ctx.obj
    _configure_logging(debug)


class _StderrHandler(logging.Handler):
    """`warning: <message>` lines on the current stderr (looked up per record, so tests can capture it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            sys.stderr.write(text + "\n")
        except Exception:  # logging must never break a command
            self.handleError(record)


def _configure_logging(debug: bool) -> None:
    """lockgate's warnings as `warning: ...` lines (debug messages too with --debug), not Python's bare text."""
    logger = logging.getLogger("lockgate")
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)


app.command("init")(init)
app.command("run")(run)
app.command("query")(query)
app.command("validate")(validate)
app.command("test")(run_tests)
app.command("schema")(schema)
app.command("build")(build)
app.command("plan")(plan)
app.command("deploy")(deploy)
app.command("rollback")(rollback)
app.command("promote")(promote)
app.command("approve")(approve)
app.command("history")(history)
app.command("status")(status)
app.command("drift")(drift)
app.add_typer(runs_app, name="runs")
app.add_typer(trigger_app, name="trigger")
app.add_typer(spark_app, name="spark")


def main() -> None:
    """Entry point: run the app and map lockgate errors to messages and exit codes."""
    try:
        code = app(standalone_mode=False)
    except LockgateError as exc:
        if CliState.current is not None and CliState.current.debug:
            render.traceback()
        render.error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        render.line("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click's usage errors, and anything unexpected
        _handle_other(exc)
    # Without standalone mode, click returns the code of a `typer.Exit` raised by a command instead of raising.
    if isinstance(code, int) and code:
        sys.exit(code)


def _handle_other(exc: Exception) -> None:
    # Typer's own usage errors (bad option values, missing arguments) know how to show themselves.
    if isinstance(exc, typer.exceptions.TyperException) and hasattr(exc, "show"):
        exc.show()
        sys.exit(getattr(exc, "exit_code", 2))
    if CliState.current is not None and CliState.current.debug:
        raise exc
    render.line(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
    render.line("  hint: rerun with --debug for the traceback, and report it if it looks like a bug", err=True)
    sys.exit(70)
