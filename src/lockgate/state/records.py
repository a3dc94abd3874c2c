"""Rows of the state database as immutable records, and the status values they carry.

Records are what :class:`lockgate.state.StateStore` returns; callers never see SQLAlchemy rows. All timestamps
are timezone-aware UTC. JSON-valued fields (``parameters``, ``output``, ``metrics``) hold what the database
returned, so values that JSON cannot express (dates, decimals, ...) come back as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Where a run of a pipeline or notebook is in its life."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_finished(self) -> bool:
        """Whether the run has stopped for good."""
        return self in (RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled)


class ActivityStatus(StrEnum):
    """Where one activity of a run is in its life; ``skipped`` activities never started."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"
    cancelled = "cancelled"

    @property
    def is_finished(self) -> bool:
        """Whether the activity has stopped for good."""
        return self not in (ActivityStatus.queued, ActivityStatus.running)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of a pipeline or a notebook, as stored."""

    id: str
    """Time-sortable and short, e.g. ``20261125-044512-3f9a2c`` (UTC start second + 6 random hex digits)."""
    pipeline: str
    """The pipeline's (or notebook's) name."""
    target_kind: str
    """``pipeline`` or ``notebook``."""
    environment: str
    engine: str
    status: RunStatus
    parameters: dict[str, Any]
    trigger: str
    """What started the run: ``manual``, a trigger name, ``api``, ..."""
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    output: Any | None
    git_commit: str | None
    process: str | None = None
    """The process running it (``host:pid:start``), so a run whose process died can be told from a live one."""
    parent_run_id: str | None = None
    """For a child pipeline's run: the run whose `pipeline` activity started it."""
    rerun_of: str | None = None
    """For ``lockgate run --rerun``: the run whose succeeded activities this one reused."""


@dataclass(frozen=True, slots=True)
class ActivityRunRecord:
    """One attempt at one activity within a run, as stored."""

    id: int
    run_id: str
    activity: str
    activity_type: str
    status: ActivityStatus
    attempt: int
    """1 for the first attempt; 0 for an activity recorded as skipped or cancelled without running."""
    started_at: datetime
    finished_at: datetime | None
    parameters: dict[str, Any]
    output: Any | None
    error: str | None
    """Why the activity failed, or the reason it was skipped."""
    log: str
    metrics: dict[str, Any]
    parent_id: int | None = None
    """The container activity run (foreach, if, switch, until) this one ran inside."""
    iteration: str | None = None
    """Which pass of the container: the foreach item index, the if branch, the switch case, the until pass."""


class DeploymentStatus(StrEnum):
    """How a deployment ended. A deployment that does not end leaves no record: its transaction never commits."""

    running = "running"
    """Only ever seen inside the deploy's own transaction."""
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """One deploy, rollback or promotion of an environment: the audit log's entry."""

    id: int
    environment: str
    project: str
    action: str
    """``deploy``, ``rollback`` or ``promote``."""
    status: DeploymentStatus
    user: str
    process: str | None
    git_commit: str | None
    release_hash: str
    plan_hash: str
    base_deployment_id: int | None
    """The deployment the plan was made against (None: the first deploy)."""
    started_at: datetime
    locked_at: datetime | None
    """When the deploy lock was granted; with ``finished_at`` it shows deploys never overlap."""
    finished_at: datetime | None
    changes: list[dict[str, Any]]
    """Every resource change: ``{"kind", "name", "action", "reasons"}`` (unchanged resources left out)."""
    triggers_before: dict[str, str]
    triggers_after: dict[str, str]
    note: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    environment: str
    plan_hash: str
    approved_by: str
    approved_at: datetime
