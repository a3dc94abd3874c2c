"""One deploy's transaction: everything a deploy changes, applied together or not at all.

A :class:`DeployTransaction` exists only inside :meth:`lockgate.state.StateStore.deploy_transaction`, which holds
the environment's deploy lock for as long as the transaction lasts. Its writes become visible together, at
commit; an error, an interrupt or the death of the process leaves the state as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from lockgate.model.plan import DeployedState, Plan, TriggerState
from lockgate.model.release import Release
from lockgate.state import deployments
from lockgate.state.records import DeploymentRecord, DeploymentStatus


class DeployTransaction:
    def __init__(self, conn: Connection, environment: str) -> None:
        self._conn = conn
        self.environment = environment

    def deployed_state(self) -> DeployedState:
        """The environment's deployed state, read under the lock: no other deploy can change it now."""
        return deployments.read_deployed_state(self._conn, self.environment)

    def begin_record(self, values: Mapping[str, Any]) -> int:
        """Insert this deployment's audit record (``running`` until :meth:`finish_record`); returns its id."""
        now = datetime.now(UTC)
        row = {
            "environment": self.environment,
            "status": DeploymentStatus.running.value,
            "started_at": now,
            "locked_at": now,
            "changes": [],
            "triggers_before": {},
            "triggers_after": {},
            **values,
        }
        return deployments.insert_deployment(self._conn, row)

    def pause_triggers(self, names: Iterable[str], *, actor: str) -> None:
        """Stop ``names`` for the rest of the transaction. Their rows stay locked until it ends, so a scheduler
        that takes a trigger's row before firing it waits for the deploy instead of firing old code."""
        stopped = dict.fromkeys(names, TriggerState.stopped)
        if stopped:
            deployments.set_trigger_states(
                self._conn, self.environment, stopped, set_by="deploy", actor=actor, at=datetime.now(UTC)
            )

    def apply(self, release: Release, plan: Plan, *, deployment_id: int) -> None:
        """Store the release and make it the environment's deployed resources."""
        deployments.store_release(self._conn, release, created_at=datetime.now(UTC))
        deployments.apply_release(self._conn, self.environment, release, plan, deployment_id=deployment_id)

    def set_trigger_states(self, states: Mapping[str, TriggerState | None], *, actor: str) -> None:
        deployments.set_trigger_states(
            self._conn, self.environment, states, set_by="deploy", actor=actor, at=datetime.now(UTC)
        )

    def finish_record(self, deployment_id: int, values: Mapping[str, Any]) -> DeploymentRecord:
        """Complete the audit record as ``succeeded``; it commits with everything else."""
        deployments.update_deployment(
            self._conn,
            deployment_id,
            {"status": DeploymentStatus.succeeded.value, "finished_at": datetime.now(UTC), **values},
        )
        return deployments.get_deployment(self._conn, deployment_id)
