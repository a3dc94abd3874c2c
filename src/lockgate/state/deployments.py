"""Deploy tables: definitions, releases, deployments, deployed resources, trigger states and approvals.

Functions take a connection and run inside the caller's transaction; :class:`lockgate.state.StateStore` and
:class:`lockgate.state.deploy_transaction.DeployTransaction` decide where transactions begin and end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lockgate.errors import NotFoundError
from lockgate.model.plan import ChangeAction, DeployedResource, DeployedState, Plan, TriggerRuntime, TriggerState
from lockgate.model.release import Release, Resource
from lockgate.state.records import ApprovalRecord, DeploymentRecord, DeploymentStatus
from lockgate.state.schema import approvals, definitions, deployed_resources, deployments, releases, trigger_states

_CHUNK = 500
"""Rows per IN (...) query: well under SQLite's 999-parameter limit."""


# -- releases and definitions ------------------------------------------------------------------------------------


def store_release(conn: Connection, release: Release, *, created_at: datetime) -> None:
    """Store the release and its definitions, unless already stored (both are immutable)."""
    if conn.execute(sa.select(releases.c.hash).where(releases.c.hash == release.hash)).first() is not None:
        return
    by_hash = {resource.hash: resource.definition for resource in release.resources}
    stored = set(_existing_definitions(conn, by_hash))
    missing = [{"hash": h, "body": body} for h, body in by_hash.items() if h not in stored]
    if missing:
        conn.execute(definitions.insert(), missing)
    conn.execute(
        releases.insert().values(
            hash=release.hash,
            project=release.project,
            environment=release.environment,
            git_commit=release.commit,
            dirty=release.dirty,
            created_at=created_at,
            resources=[resource.entry() for resource in release.resources],
        )
    )


def load_release(conn: Connection, release_hash: str) -> Release:
    """A stored release with its definitions.

    Raises:
        NotFoundError: no release has this hash.
    """
    row = conn.execute(sa.select(releases).where(releases.c.hash == release_hash)).mappings().first()
    if row is None:
        raise NotFoundError(f"no release {release_hash[:12]} in the state database")
    entries: list[dict[str, Any]] = list(row["resources"])
    bodies = _definitions(conn, {entry["hash"] for entry in entries})
    resources = tuple(Resource.from_entry(entry, bodies[entry["hash"]]) for entry in entries)
    return Release(row["project"], row["environment"], row["git_commit"], row["dirty"], resources, row["hash"])


def _existing_definitions(conn: Connection, hashes: Iterable[str]) -> list[str]:
    found: list[str] = []
    for chunk in _chunks(sorted(hashes)):
        found += conn.execute(sa.select(definitions.c.hash).where(definitions.c.hash.in_(chunk))).scalars().all()
    return found


def _definitions(conn: Connection, hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
    bodies: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(hashes)):
        for row in conn.execute(sa.select(definitions.c.hash, definitions.c.body).where(definitions.c.hash.in_(chunk))):
            bodies[row.hash] = row.body
    return bodies


def _chunks(values: list[str]) -> Iterable[list[str]]:
    """``values`` in slices of :data:`_CHUNK`."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# -- deployed state ------------------------------------------------------------------------------------------


def read_deployed_state(conn: Connection, environment: str) -> DeployedState:
    """What ``environment`` runs now, as of this transaction."""
    last = last_deployment(conn, environment)
    rows = conn.execute(
        sa.select(
            deployed_resources.c.kind,
            deployed_resources.c.name,
            deployed_resources.c.hash,
            deployed_resources.c.state,
            definitions.c.body,
        )
        .select_from(deployed_resources.outerjoin(definitions, definitions.c.hash == deployed_resources.c.hash))
        .where(deployed_resources.c.environment == environment)
    ).all()
    resources = {
        f"{row.kind}/{row.name}": DeployedResource(row.kind, row.name, row.hash, row.body or {}, row.state)
        for row in rows
    }
    released: dict[str, str] = {}
    if last is not None:
        entries = conn.execute(sa.select(releases.c.resources).where(releases.c.hash == last.release_hash)).scalar()
        released = {f"{e['kind']}/{e['name']}": e["hash"] for e in entries or ()}
    return DeployedState(
        environment=environment,
        deployment_id=last.id if last else None,
        release_hash=last.release_hash if last else None,
        commit=last.git_commit if last else None,
        resources=resources,
        released=released,
        triggers=read_trigger_states(conn, environment),
    )


def apply_release(conn: Connection, environment: str, release: Release, plan: Plan, *, deployment_id: int) -> None:
    """Make the deployed resources of ``environment`` those of ``release``, as ``plan`` says."""
    by_key = {resource.key: resource for resource in release.resources}
    current = {
        (row.kind, row.name): row.state
        for row in conn.execute(
            sa.select(deployed_resources.c.kind, deployed_resources.c.name, deployed_resources.c.state).where(
                deployed_resources.c.environment == environment
            )
        )
    }
    replaced: list[tuple[str, str]] = []
    for change in plan.changes:
        resource = by_key.get(change.key)
        state_changed = (
            resource is not None and current.get((change.kind, change.name), resource.state) != resource.state
        )
        if change.action is not ChangeAction.unchanged or state_changed:
            replaced.append((change.kind, change.name))
    by_kind: dict[str, list[str]] = {}
    for kind, name in replaced:
        by_kind.setdefault(kind, []).append(name)
    for kind, names in by_kind.items():
        for chunk in _chunks(names):
            conn.execute(
                deployed_resources.delete().where(
                    deployed_resources.c.environment == environment,
                    deployed_resources.c.kind == kind,
                    deployed_resources.c.name.in_(chunk),
                )
            )
    rows = [
        {
            "environment": environment,
            "kind": kind,
            "name": name,
            "hash": by_key[f"{kind}/{name}"].hash,
            "state": by_key[f"{kind}/{name}"].state,
            "deployment_id": deployment_id,
        }
        for kind, name in replaced
        if f"{kind}/{name}" in by_key
    ]
    if rows:
        conn.execute(deployed_resources.insert(), rows)


# -- trigger states ------------------------------------------------------------------------------------------


def read_trigger_states(conn: Connection, environment: str) -> dict[str, TriggerRuntime]:
    rows = conn.execute(sa.select(trigger_states).where(trigger_states.c.environment == environment)).all()
    return {
        row.name: TriggerRuntime(row.name, TriggerState(row.state), row.set_by, row.actor, row.changed_at)
        for row in rows
    }


def set_trigger_states(
    conn: Connection,
    environment: str,
    states: Mapping[str, TriggerState | None],
    *,
    set_by: str,
    actor: str,
    at: datetime,
) -> None:
    """Set triggers' runtime states (``None`` removes a trigger's row), marking who set them."""
    for chunk in _chunks(list(states)):
        conn.execute(
            trigger_states.delete().where(trigger_states.c.environment == environment, trigger_states.c.name.in_(chunk))
        )
    row = {"environment": environment, "set_by": set_by, "actor": actor, "changed_at": at}
    rows = [{**row, "name": name, "state": state.value} for name, state in states.items() if state is not None]
    if rows:
        conn.execute(trigger_states.insert(), rows)


# -- deployments ---------------------------------------------------------------------------------------------


def insert_deployment(conn: Connection, values: Mapping[str, Any]) -> int:
    result = conn.execute(deployments.insert().values(**values).returning(deployments.c.id))
    return int(result.scalar_one())


def update_deployment(conn: Connection, deployment_id: int, values: Mapping[str, Any]) -> None:
    conn.execute(deployments.update().where(deployments.c.id == deployment_id).values(**values))


def last_deployment(conn: Connection, environment: str) -> DeploymentRecord | None:
    """The environment's newest succeeded deployment: what it runs."""
    row = (
        conn.execute(
            sa.select(deployments)
            .where(deployments.c.environment == environment, deployments.c.status == DeploymentStatus.succeeded)
            .order_by(deployments.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else _deployment(row)


def list_deployments(conn: Connection, environment: str | None, *, limit: int) -> list[DeploymentRecord]:
    query = sa.select(deployments).order_by(deployments.c.id.desc()).limit(limit)
    if environment is not None:
        query = query.where(deployments.c.environment == environment)
    return [_deployment(row) for row in conn.execute(query).mappings()]


def get_deployment(conn: Connection, deployment_id: int) -> DeploymentRecord:
    row = conn.execute(sa.select(deployments).where(deployments.c.id == deployment_id)).mappings().first()
    if row is None:
        raise NotFoundError(
            f"no deployment #{deployment_id}", hint="`lockgate history --env ENV` lists an environment's deployments"
        )
    return _deployment(row)


def deployed_environments(conn: Connection) -> list[str]:
    return sorted(conn.execute(sa.select(deployments.c.environment).distinct()).scalars().all())


def _deployment(row: sa.RowMapping) -> DeploymentRecord:
    return DeploymentRecord(
        id=row["id"],
        environment=row["environment"],
        project=row["project"],
        action=row["action"],
        status=DeploymentStatus(row["status"]),
        user=row["user"],
        process=row["process"],
        git_commit=row["git_commit"],
        release_hash=row["release_hash"],
        plan_hash=row["plan_hash"],
        base_deployment_id=row["base_deployment_id"],
        started_at=row["started_at"],
        locked_at=row["locked_at"],
        finished_at=row["finished_at"],
        changes=list(row["changes"]),
        triggers_before=dict(row["triggers_before"]),
        triggers_after=dict(row["triggers_after"]),
        note=row["note"],
        error=row["error"],
    )


# -- approvals -----------------------------------------------------------------------------------------------


def insert_approval(conn: Connection, environment: str, plan_hash: str, *, by: str, at: datetime) -> ApprovalRecord:
    for existing in find_approvals(conn, environment, plan_hash):
        if existing.approved_by == by:
            return existing
    conn.execute(
        approvals.insert().values(environment=environment, plan_hash=plan_hash, approved_by=by, approved_at=at)
    )
    return ApprovalRecord(environment, plan_hash, by, at)


def find_approvals(conn: Connection, environment: str, plan_hash: str) -> list[ApprovalRecord]:
    """The approvals of this plan, oldest first (an approval may name a prefix of the hash, 12+ characters)."""
    rows = conn.execute(
        sa.select(approvals).where(approvals.c.environment == environment).order_by(approvals.c.approved_at)
    ).all()
    return [
        ApprovalRecord(row.environment, row.plan_hash, row.approved_by, row.approved_at)
        for row in rows
        if plan_hash.startswith(row.plan_hash)
    ]
