"""The project commands: init, run, query, validate, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockgate.cli import render
from lockgate.cli.options import EnvOption, load_project, parse_assignments, settings, state

if TYPE_CHECKING:
    from lockgate.services.project import Project


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in (new or empty).")],
    name: Annotated[str | None, typer.Option(help="Project name (default: the folder's name).")] = None,
    rows: Annotated[int, typer.Option(help="Patients in the sample data set.", min=10)] = 2000,
) -> None:
    """Create a project that runs at once: sample healthcare data, notebooks, a `daily` pipeline."""
    from lockgate.services.scaffold import init_project

    result = init_project(directory, name=name, rows=rows)
    render.scaffold(result)


def run(
    target: Annotated[str | None, typer.Argument(help="A pipeline name, or a notebook path.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="NAME=VALUE", help="Pipeline parameter, or widget value for a notebook."),
    ] = None,
    env: EnvOption = None,
    engine: Annotated[str | None, typer.Option(help="Engine for this run (default: the environment's).")] = None,
    rerun: Annotated[
        str | None,
        typer.Option(
            "--rerun",
            metavar="RUN_ID",
            help="Run a failed pipeline run again from its failed activities, reusing what succeeded.",
        ),
    ] = None,
) -> None:
    """Run a pipeline or a notebook and record the run."""
    from lockgate.cli.progress import RunProgress
    from lockgate.errors import UserInputError
    from lockgate.services.runner import rerun_pipeline, run_notebook, run_pipeline
    from lockgate.services.state import open_state

    if (target is None) == (rerun is None):
        raise UserInputError(
            "give a pipeline or notebook to run, or --rerun RUN_ID (not both)",
            hint="e.g. `lockgate run daily` or `lockgate run --rerun 20261125-044512-3f9a2c`",
        )
    if rerun is not None and (param or env):
        raise UserInputError("--rerun reuses the run's parameters and environment; drop -p and --env")
    project = load_project()
    values = parse_assignments(param, option="-p")
    with open_state(project, settings()) as store, RunProgress() as progress:
        if rerun is not None:
            result = rerun_pipeline(
                project, rerun, store=store, engine=engine, settings=settings(), on_event=progress.handle
            )
        elif target in project.pipelines:
            result = run_pipeline(
                project,
                target,
                store=store,
                environment=env,
                parameters=values,
                engine=engine,
                settings=settings(),
                on_event=progress.handle,
            )
        else:
            assert target is not None
            result = run_notebook(
                project,
                _notebook_target(project, target),
                store=store,
                environment=env,
                widgets=values,
                engine=engine,
                settings=settings(),
                on_event=progress.handle,
            )
    render.run_result(result)


def _notebook_target(project: Project, target: str) -> str:
    """A notebook given as a path from here, or from the project root; else a did-you-mean error."""
    from lockgate.errors import NotFoundError
    from lockgate.model.project import unknown_name_problem

    cwd_relative = Path.cwd() / target
    if cwd_relative.is_file():
        try:
            return cwd_relative.resolve().relative_to(project.root).as_posix()
        except ValueError:
            pass
    try:
        return project.notebook_path(target)
    except NotFoundError:
        candidates = sorted(project.pipelines) + sorted(project.notebooks)
        problem = unknown_name_problem("pipeline or notebook", target, candidates, None)
        raise NotFoundError(problem.message, hint=problem.hint) from None


def build(
    env: EnvOption = None,
    commit: Annotated[str | None, typer.Option(help="Build the project as it is at this Git revision.")] = None,
    output_format: Annotated[render.ReleaseFormat, typer.Option("--format", "-f", help="Output format.")] = (
        render.ReleaseFormat.text
    ),
) -> None:
    """Build the content-hashed release of the project for an environment (what a deploy would apply)."""
    from lockgate.services.release import build_project_release

    render.release(build_project_release(state().project, env, commit=commit), output_format)


def query(
    sql: Annotated[str, typer.Argument(help="One query; tables are named schema.table.")],
    env: EnvOption = None,
    output_format: Annotated[render.QueryFormat, typer.Option("--format", "-f", help="Output format.")] = (
        render.QueryFormat.table
    ),
    dialect: Annotated[render.QueryDialect, typer.Option(help="SQL dialect of the query.")] = render.QueryDialect.spark,
) -> None:
    """Query an environment's tables (read-only)."""
    from lockgate.services.query import run_query

    render.query_result(run_query(load_project(), sql, environment=env, dialect=dialect.value), output_format)


def validate() -> None:
    """Check the project's files, pipelines, notebooks and SQL without running anything."""
    from lockgate.errors import ProjectError
    from lockgate.services.project import validate_project

    project, problems = validate_project(state().project)
    if problems or project is None:
        raise ProjectError(problems)
    render.validation_ok(project)


def schema(
    kind: Annotated[str, typer.Argument(help="project (lockgate.yaml), pipeline, trigger, or all.")] = "all",
    out: Annotated[Path | None, typer.Option(help="Write <kind>.schema.json files into this folder.")] = None,
) -> None:
    """Print the JSON Schema of lockgate.yaml and of pipeline files, for editor completion."""
    from lockgate.services.schema import json_schemas

    schemas = json_schemas(kind)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, document in schemas.items():
            (out / f"{name}.schema.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            render.line(f"wrote {out / (name + '.schema.json')}")
        return
    render.line(json.dumps(schemas if kind == "all" else next(iter(schemas.values())), indent=2))
