"""What environments run, and the commands around deploys: rollback, promote, approve, status, drift.

Rollback and promotion choose a release and hand it to the same plan and deploy path as `lockgate deploy`:
rollback redeploys a release the environment ran before (stored by that deploy, so no Git checkout is needed),
promotion rebuilds the commit the source environment runs for the target environment.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from lockgate.errors import ConflictError, NotFoundError, UserInputError
from lockgate.model.plan import DeployedState, Drift, build_plan
from lockgate.model.project import ProjectConfig, resolve_environment
from lockgate.model.release import Release
from lockgate.services.release import build_project_release
from lockgate.state import ApprovalRecord, DeploymentRecord, DeploymentStatus, StateStore

_PLAN_HASH = re.compile(r"^[0-9a-f]{12,64}$")


def deploy_user() -> str:
    """Who deploys, for the audit log: ``LOCKGATE_USER`` (set it in CI) or the login name, at this host."""
    return os.environ.get("LOCKGATE_USER") or f"{getpass.getuser()}@{socket.gethostname()}"


def environment_names(config: ProjectConfig, environment: str | None) -> list[str]:
    """``environment`` checked against the project (did-you-mean), or every environment."""
    if environment is None:
        return list(config.environments)
    return [resolve_environment(config, environment).name]


def rollback_release(store: StateStore, project: str, environment: str, to: int | None) -> tuple[Release, str]:
    """The release a rollback deploys, and the note for the audit log.

    Without ``to``: the newest release the environment ran before its current one.

    Raises:
        NotFoundError: nothing to roll back to, or ``to`` is not a succeeded deployment of this environment.
    """
    current = _current(store, environment)
    if to is not None:
        target = store.get_deployment(to)
        if target.environment != environment or target.status is not DeploymentStatus.succeeded:
            raise NotFoundError(
                f"deployment #{to} is not a succeeded deployment of {environment!r} "
                f"(it is a {target.status.value} deployment of {target.environment!r})",
                hint=f"`lockgate history --env {environment}` lists the deployments you can roll back to",
            )
    else:
        earlier = [
            record
            for record in store.list_deployments(environment, limit=1000)
            if record.status is DeploymentStatus.succeeded
            and record.id < current.id
            and record.release_hash != current.release_hash
        ]
        if not earlier:
            raise NotFoundError(
                f"{environment!r} has run no other release before deployment #{current.id}: nothing to roll back to",
                hint=f"`lockgate history --env {environment}` lists its deployments",
            )
        target = earlier[0]
    release = store.load_release(target.release_hash)
    check_same_project(environment, release.project, project)
    return release, f"rollback to deployment #{target.id}"


def promotion_release(
    store: StateStore, project_root: Path | None, project: str, source: str, target: str
) -> tuple[Release, str]:
    """The release that deploys to ``target`` exactly what ``source`` runs: its commit, built for ``target``.

    Raises:
        NotFoundError: ``source`` runs nothing.
        ConflictError: ``source`` runs a release built from uncommitted changes, or the rebuilt release differs
            in something besides the environment's own values.
    """
    if source == target:
        raise UserInputError("--from and --to name the same environment", hint="promote from one to the next")
    current = _current(store, source)
    running = store.load_release(current.release_hash)
    check_same_project(source, running.project, project)
    if running.commit is None or running.dirty:
        raise ConflictError(
            f"{source!r} runs a release built from uncommitted changes (deployment #{current.id}): "
            "there is no commit to promote",
            hint=f"commit, deploy the commit to {source!r}, then promote",
        )
    release = build_project_release(project_root, target, commit=running.commit)
    shared = {r.key: r.hash for r in running.resources if r.kind != "environment"}
    rebuilt = {r.key: r.hash for r in release.resources if r.kind != "environment"}
    if shared != rebuilt:
        differing = sorted(key for key in set(shared) | set(rebuilt) if shared.get(key) != rebuilt.get(key))
        raise ConflictError(
            f"commit {running.commit[:12]} builds different resources for {target!r} than {source!r} runs: "
            + ", ".join(differing[:5]),
            hint="deploy the commit to the source again, then promote",
        )
    return release, f"promoted from {source} (deployment #{current.id}, commit {running.commit[:12]})"


def approve_plan(store: StateStore, environment: str, plan_hash: str, *, by: str) -> ApprovalRecord:
    """Record that ``by`` approves the plan with this hash (or a unique prefix of 12+ hex digits).

    Raises:
        UserInputError: not a plan hash.
    """
    plan_hash = plan_hash.strip().lower()
    if not _PLAN_HASH.match(plan_hash):
        raise UserInputError(
            f"{plan_hash!r} is not a plan hash",
            hint="copy the hash from `lockgate plan --env ENV` (12 to 64 hex digits)",
        )
    return store.approve(environment, plan_hash, by=by)


@dataclass(frozen=True, slots=True)
class EnvironmentStatus:
    environment: str
    deployment: DeploymentRecord | None
    state: DeployedState


def environment_status(store: StateStore, environment: str) -> EnvironmentStatus:
    return EnvironmentStatus(environment, store.last_deployment(environment), store.deployed_state(environment))


@dataclass(frozen=True, slots=True)
class DriftReport:
    environment: str
    deployment: DeploymentRecord | None
    drift: tuple[Drift, ...]


def environment_drift(store: StateStore, environment: str) -> DriftReport:
    """Changes to ``environment``'s deployed state made outside a deploy, against the release it runs."""
    current = store.last_deployment(environment)
    if current is None:
        return DriftReport(environment, None, ())
    plan = build_plan(store.load_release(current.release_hash), store.deployed_state(environment))
    return DriftReport(environment, current, plan.drift)


def _current(store: StateStore, environment: str) -> DeploymentRecord:
    current = store.last_deployment(environment)
    if current is None:
        raise NotFoundError(
            f"nothing is deployed to {environment!r} yet", hint=f"deploy first: lockgate deploy --env {environment}"
        )
    return current


def check_same_project(environment: str, stored: str, project: str) -> None:
    """Refuse to mix projects: ``environment`` in this state database belongs to project ``stored``.

    Raises:
        ConflictError: ``project`` is another project.
    """
    if stored != project:
        raise ConflictError(
            f"environment {environment!r} in this state database runs project {stored!r}, not {project!r}",
            hint="give each project its own state database (state_url in lockgate.yaml or LOCKGATE_STATE_URL)",
        )
