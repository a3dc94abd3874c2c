"""The environment commands: plan, deploy, rollback, promote, approve, history, status, drift, trigger."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockgate.cli import render, render_deploy
from lockgate.cli.options import load_project, settings, state
from lockgate.cli.render_deploy import ListFormat
from lockgate.cli.render_plan import PlanFormat, render_plan

if TYPE_CHECKING:
    from lockgate.model.plan import Plan
    from lockgate.services.deploy import DeployOptions
    from lockgate.services.project import Project

TargetEnv = Annotated[str | None, typer.Option("--env", "-e", help="Target environment.", show_default=False)]
Commit = Annotated[
    str | None, typer.Option(help="Git revision to build (default: the working tree at HEAD).", show_default=False)
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Answer yes to every confirmation.")]
ResumeAll = Annotated[
    bool, typer.Option("--resume-all", help="Also resume triggers an operator paused (default: they stay paused).")
]
LockTimeout = Annotated[
    float,
    typer.Option(help="Seconds to wait for another deploy's lock (0: fail at once, naming the holder).", min=0),
]
Format = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]


def plan(
    env: TargetEnv = None,
    output_format: Annotated[PlanFormat, typer.Option("--format", "-f", help="Output format.")] = PlanFormat.text,
    out: Annotated[
        Path | None,
        typer.Option(help="Also save the plan (JSON) for `lockgate deploy --plan FILE`.", show_default=False),
    ] = None,
    commit: Commit = None,
    resume_all: ResumeAll = False,
) -> None:
    """Show what a deploy to an environment would change: resources, triggers, drift."""
    from lockgate.services.planning import check_secrets, plan_release
    from lockgate.services.release import build_project_release
    from lockgate.services.state import open_state

    project = load_project()
    release = build_project_release(state().project, env, commit=commit, project=project)
    check_secrets(release, settings())
    with open_state(project, settings()) as store:
        result = plan_release(store, release, resume_all=resume_all)
    if out is not None:
        out.write_text(render_plan(result, PlanFormat.json), encoding="utf-8")
    sys.stdout.write(render_plan(result, output_format))
    if out is not None:
        render.line(
            f"Saved the plan to {out}: deploy it with `lockgate deploy --env {result.environment} --plan {out}`",
            err=True,
        )


def deploy(
    env: TargetEnv = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Deploy exactly this saved plan (refused if the state moved).")
    ] = None,
    yes: Yes = False,
    commit: Commit = None,
    resume_all: ResumeAll = False,
    lock_timeout: LockTimeout = 300.0,
) -> None:
    """Deploy the project to an environment, in one transaction, under the environment's lock."""
    from lockgate.services.deploy import deploy as run_deploy
    from lockgate.services.planning import check_saved_plan, load_saved_plan
    from lockgate.services.release import build_project_release
    from lockgate.services.state import open_state

    project = load_project()
    saved = load_saved_plan(plan_file) if plan_file is not None else None
    if saved is not None:
        env = env or saved.environment
        if commit is None and not saved.release.dirty:
            commit = saved.release.commit  # rebuild exactly what was planned, whatever the working tree holds now
    release = build_project_release(state().project, env, commit=commit, project=project)
    if saved is not None and plan_file is not None:
        check_saved_plan(saved, release, plan_file)
    options = _options(yes=yes, resume_all=resume_all, lock_timeout=lock_timeout)
    options.saved = saved
    with open_state(project, settings()) as store:
        render_deploy.deploy_result(run_deploy(store, release, settings(), options))


def rollback(
    env: TargetEnv = None,
    to: Annotated[int | None, typer.Option(help="Deployment id to go back to (default: the previous release).")] = None,
    yes: Yes = False,
    lock_timeout: LockTimeout = 300.0,
) -> None:
    """Redeploy the release an environment ran before (or the one of a given deployment)."""
    from lockgate.services.deploy import deploy as run_deploy
    from lockgate.services.environments import rollback_release
    from lockgate.services.state import open_state

    project, environment = _project_and_environment(env)
    with open_state(project, settings()) as store:
        release, note = rollback_release(store, project.config.name, environment, to)
        options = _options(yes=yes, resume_all=False, lock_timeout=lock_timeout)
        render_deploy.deploy_result(run_deploy(store, release, settings(), options, action="rollback", note=note))


def promote(
    source: Annotated[str, typer.Option("--from", help="Environment whose release to promote.")],
    target: Annotated[str, typer.Option("--to", help="Environment to deploy it to.")],
    yes: Yes = False,
    lock_timeout: LockTimeout = 300.0,
) -> None:
    """Deploy to one environment exactly the commit another one runs."""
    from lockgate.services.deploy import deploy as run_deploy
    from lockgate.services.environments import promotion_release
    from lockgate.services.state import open_state

    project = load_project()
    source_env, target_env = _environment(project, source), _environment(project, target)
    with open_state(project, settings()) as store:
        release, note = promotion_release(store, state().project, project.config.name, source_env, target_env)
        options = _options(yes=yes, resume_all=False, lock_timeout=lock_timeout)
        render_deploy.deploy_result(run_deploy(store, release, settings(), options, action="promote", note=note))


def approve(
    plan_hash: Annotated[str, typer.Argument(help="The plan hash `lockgate plan` printed (12+ hex digits).")],
    env: TargetEnv = None,
) -> None:
    """Approve a plan for an environment that requires approvals."""
    from lockgate.services.environments import approve_plan, deploy_user
    from lockgate.services.state import open_state

    project, environment = _project_and_environment(env)
    with open_state(project, settings()) as store:
        render_deploy.approval(approve_plan(store, environment, plan_hash, by=deploy_user()))


def history(
    env: TargetEnv = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many deployments to list.", min=1)] = 20,
    output_format: Format = ListFormat.text,
) -> None:
    """List an environment's deployments (the audit log), newest first."""
    from lockgate.services.state import open_state

    project, environment = _project_and_environment(env)
    with open_state(project, settings()) as store:
        render_deploy.history(store.list_deployments(environment, limit=limit), output_format)


def status(env: TargetEnv = None, output_format: Format = ListFormat.text) -> None:
    """Show what an environment runs: deployment, commit, release, triggers and their states."""
    from lockgate.services.environments import environment_status
    from lockgate.services.state import open_state

    project, environment = _project_and_environment(env)
    with open_state(project, settings()) as store:
        render_deploy.status(environment_status(store, environment), output_format)


def drift(
    env: Annotated[str | None, typer.Option("--env", "-e", help="One environment (default: all).")] = None,
    output_format: Format = ListFormat.text,
) -> None:
    """Report changes made to deployed state outside a deploy. Exit code 1 when there are any (for CI)."""
    from lockgate.services.environments import environment_drift, environment_names
    from lockgate.services.state import open_state

    project = load_project()
    with open_state(project, settings()) as store:
        reports = [environment_drift(store, name) for name in environment_names(project.config, env)]
    render_deploy.drift(reports, output_format)
    if any(report.drift for report in reports):
        raise typer.Exit(1)


trigger_app = typer.Typer(help="Pause or resume a deployed trigger (operators).", rich_markup_mode=None)


@trigger_app.command("pause")
def pause_trigger(name: Annotated[str, typer.Argument(help="Trigger name.")], env: TargetEnv = None) -> None:
    """Pause a trigger in an environment; deploys keep it paused until it is resumed."""
    _set_trigger(name, env, started=False)


@trigger_app.command("resume")
def resume_trigger(name: Annotated[str, typer.Argument(help="Trigger name.")], env: TargetEnv = None) -> None:
    """Resume a trigger an operator paused (starting one that Git has stopped is drift)."""
    _set_trigger(name, env, started=True)


def _set_trigger(name: str, env: str | None, *, started: bool) -> None:
    from lockgate.model.plan import TriggerState
    from lockgate.services.environments import deploy_user
    from lockgate.services.state import open_state

    project, environment = _project_and_environment(env)
    wanted = TriggerState.started if started else TriggerState.stopped
    with open_state(project, settings()) as store:
        runtime = store.set_trigger_state(environment, name, wanted, actor=deploy_user())
    render.line(f"Trigger {name} in {environment}: {runtime.state.value} (by {runtime.actor})")


def _project_and_environment(env: str | None) -> tuple[Project, str]:
    project = load_project()
    return project, _environment(project, env)


def _environment(project: Project, env: str | None) -> str:
    """The environment ``env`` names in the project (default: its default environment), or a did-you-mean error."""
    from lockgate.model.project import resolve_environment

    return resolve_environment(project.config, env).name


def _options(*, yes: bool, resume_all: bool, lock_timeout: float) -> DeployOptions:
    from lockgate.services.deploy import DeployOptions

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    return DeployOptions(
        yes=yes,
        confirm=_confirm if interactive else None,
        show_plan=_show_plan,
        resume_all=resume_all,
        lock_timeout=lock_timeout,
        on_wait=lambda holder: render.line(f"waiting for the deploy lock, held by {holder}", err=True),
    )


def _confirm(reason: str) -> bool:
    return typer.confirm(f"{reason[0].upper()}{reason[1:]}?", default=False)


def _show_plan(plan: Plan) -> None:
    sys.stdout.write(render_plan(plan, PlanFormat.text))
