"""`lockgate runs` (recent runs) and `lockgate runs show RUN_ID` (one run with its activities)."""

from __future__ import annotations

from typing import Annotated

import typer

from lockgate.cli import render
from lockgate.cli.options import load_project, settings

runs_app = typer.Typer(
    help="List recent runs, or show one.", invoke_without_command=True, no_args_is_help=False, rich_markup_mode=None
)


@runs_app.callback()
def list_runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs to list.", min=1)] = 20,
    pipeline: Annotated[str | None, typer.Option(help="Only runs of this pipeline or notebook.")] = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only runs in this environment.")] = None,
) -> None:
    """List recent runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from lockgate.services.state import open_state

    with open_state(load_project(), settings()) as store:
        render.runs(store.list_runs(limit=limit, pipeline=pipeline, environment=env))


@runs_app.command("show")
def show_run(run_id: Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")]) -> None:
    """Show one run as a tree of its activities (loop passes, branches, child pipelines) with their inputs,
    outputs, attempts, rows read and written, errors and logs."""
    from lockgate.cli.render_runs import run_tree
    from lockgate.services.run_history import load_run_tree
    from lockgate.services.state import open_state

    with open_state(load_project(), settings()) as store:
        run_tree(load_run_tree(store, run_id))
