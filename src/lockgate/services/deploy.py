"""`lockgate deploy`: apply a release to an environment, all of it or none of it.

A deploy is a list of stages, built from the plan (:func:`build_deploy_stages`) and applied one by one by a
``_visit_*`` function, all inside one transaction that holds the environment's deploy lock:

    AcquireLock -> PauseTriggers -> ApplyChanges -> ResumeTriggers -> RecordDeployment

The plan is made again under the lock, from the state no other deploy can change now. A plan the user saw
(confirmed, approved or saved to a file) must still be the plan then: if the deployed state moved in between,
the deploy is refused. Whatever happens before the commit (an error, Ctrl-C, SIGKILL), the database rolls the
whole transaction back, so triggers keep their states and the lock is released with the session; an error
after the lock was taken is then recorded in the audit log as a failed deployment.

Crash tests set ``LOCKGATE_TEST_KILL_AT`` to a stage name (or ``Committed``): the process kills itself with
SIGKILL right after that stage, which is how the tests prove the all-or-nothing claim on a real process.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lockgate.errors import ConflictError, UserInputError
from lockgate.model.plan import ChangeAction, DeployedState, Plan, TriggerState, build_plan
from lockgate.model.plan_document import SavedPlan
from lockgate.model.release import Release
from lockgate.services.environments import check_same_project, deploy_user
from lockgate.services.planning import check_secrets
from lockgate.services.settings import Settings
from lockgate.state import DeploymentRecord, DeploymentStatus, DeployTransaction, StateStore
from lockgate.state.processes import current_process

KILL_AT_VARIABLE = "LOCKGATE_TEST_KILL_AT"
DEFAULT_LOCK_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class AcquireLock:
    environment: str


@dataclass(frozen=True, slots=True)
class PauseTriggers:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ApplyChanges:
    changed: int
    """Resources created, updated or deleted."""


@dataclass(frozen=True, slots=True)
class ResumeTriggers:
    states: dict[str, TriggerState | None]
    """The runtime state of every trigger the deploy touches (None: removed)."""


@dataclass(frozen=True, slots=True)
class RecordDeployment:
    action: str


Stage = AcquireLock | PauseTriggers | ApplyChanges | ResumeTriggers | RecordDeployment


def build_deploy_stages(plan: Plan, *, action: str = "deploy") -> list[Stage]:
    """The stages that apply ``plan``, in order."""
    changed = sum(change.action is not ChangeAction.unchanged for change in plan.changes)
    return [
        AcquireLock(plan.environment),
        PauseTriggers(plan.paused_triggers),
        ApplyChanges(changed),
        ResumeTriggers(_touched_triggers(plan)),
        RecordDeployment(action),
    ]


def _touched_triggers(plan: Plan) -> dict[str, TriggerState | None]:
    states: dict[str, TriggerState | None] = dict.fromkeys(plan.removed_triggers)
    states.update({name: plan.final_trigger_states[name] for name in plan.new_triggers})
    for action in plan.trigger_actions:
        if action.after != action.before or action.name in plan.paused_triggers:
            states[action.name] = action.after
    return states


@dataclass(slots=True)
class DeployOptions:
    """How the CLI (or API) wants a deploy done."""

    yes: bool = False
    """Answers every confirmation."""
    confirm: Callable[[str], bool] | None = None
    """Asks the user; None when there is no one to ask (no terminal)."""
    show_plan: Callable[[Plan], None] | None = None
    """Shows the plan before asking."""
    saved: SavedPlan | None = None
    resume_all: bool = False
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    on_wait: Callable[[str], None] | None = None


@dataclass(slots=True)
class DeployRequest:
    """What :func:`deploy_release` applies, once :func:`deploy` has checked and confirmed it."""

    release: Release
    user: str
    action: str = "deploy"
    """``deploy``, ``rollback`` or ``promote``: how the audit log shows it."""
    note: str | None = None
    expected: SavedPlan | Plan | None = None
    """A plan someone saw: the deploy is refused unless it is still the plan under the lock."""
    options: DeployOptions = field(default_factory=DeployOptions)


@dataclass(frozen=True, slots=True)
class DeployResult:
    plan: Plan
    record: DeploymentRecord
    seconds: float


@dataclass(slots=True)
class _Evaluator:
    request: DeployRequest
    transaction: DeployTransaction
    plan: Plan
    deployed: DeployedState
    """The state the plan was made against, read under the lock."""
    deployment_id: int = 0
    before: dict[str, str] = field(default_factory=dict)

    def visit(self, stage: Stage) -> None:
        match stage:
            case AcquireLock():
                self._visit_acquire_lock(stage)
            case PauseTriggers():
                self._visit_pause_triggers(stage)
            case ApplyChanges():
                self._visit_apply_changes(stage)
            case ResumeTriggers():
                self._visit_resume_triggers(stage)
            case RecordDeployment():
                self._visit_record_deployment(stage)

    def _visit_acquire_lock(self, stage: AcquireLock) -> None:
        # The lock is already held (the transaction took it); open the audit record inside it.
        self.before = {name: runtime.state.value for name, runtime in self.deployed.triggers.items()}
        release = self.request.release
        self.deployment_id = self.transaction.begin_record(
            {
                "project": release.project,
                "action": self.request.action,
                "user": self.request.user,
                "process": current_process(),
                "git_commit": release.commit,
                "release_hash": release.hash,
                "plan_hash": self.plan.hash,
                "base_deployment_id": self.plan.base_deployment_id,
                "note": self.request.note,
            }
        )

    def _visit_pause_triggers(self, stage: PauseTriggers) -> None:
        self.transaction.pause_triggers(stage.names, actor=self._actor)

    def _visit_apply_changes(self, stage: ApplyChanges) -> None:
        self.transaction.apply(self.request.release, self.plan, deployment_id=self.deployment_id)

    def _visit_resume_triggers(self, stage: ResumeTriggers) -> None:
        self.transaction.set_trigger_states(stage.states, actor=self._actor)

    def _visit_record_deployment(self, stage: RecordDeployment) -> None:
        after = {name: state.value for name, state in self.plan.final_trigger_states.items()}
        self.transaction.finish_record(
            self.deployment_id,
            {
                "changes": [
                    {"kind": c.kind, "name": c.name, "action": c.action.value, "reasons": [r.value for r in c.reasons]}
                    for c in self.plan.changes
                    if c.action is not ChangeAction.unchanged
                ],
                "triggers_before": self.before,
                "triggers_after": after,
            },
        )

    @property
    def _actor(self) -> str:
        return f"deployment #{self.deployment_id}"


def deploy_release(store: StateStore, request: DeployRequest) -> DeployResult:
    """Apply ``request.release`` to its environment in one transaction under the environment's deploy lock.

    Raises:
        ConflictError: the lock is held past ``lock_timeout``, or the deployed state moved since the expected plan.
        LockgateError: anything that failed while applying; nothing was applied.
    """
    started = time.perf_counter()
    release = request.release
    holder = f"lockgate {request.action} by {request.user} ({current_process()})"
    evaluator: _Evaluator | None = None
    try:
        with store.deploy_transaction(
            release.environment, timeout=request.options.lock_timeout, holder=holder, on_wait=request.options.on_wait
        ) as transaction:
            deployed = transaction.deployed_state()
            plan = build_plan(release, deployed, resume_all=request.options.resume_all)
            _check_expected(plan, request.expected)
            evaluator = _Evaluator(request, transaction, plan, deployed)
            for stage in build_deploy_stages(plan, action=request.action):
                evaluator.visit(stage)
                _kill_point(type(stage).__name__)
            record_id = evaluator.deployment_id
        _kill_point("Committed")
    except BaseException as exc:
        if evaluator is not None and evaluator.deployment_id:
            _record_failure(store, evaluator, exc)
        raise
    return DeployResult(plan, store.get_deployment(record_id), time.perf_counter() - started)


def _check_expected(plan: Plan, expected: SavedPlan | Plan | None) -> None:
    if expected is None:
        return
    base = expected.base.state_hash if isinstance(expected, SavedPlan) else expected.base_state_hash
    expected_hash = expected.plan_hash if isinstance(expected, SavedPlan) else expected.hash
    if base != plan.base_state_hash:
        raise ConflictError(
            f"the deployed state of {plan.environment!r} changed since the plan was made "
            f"(now at deployment #{plan.base_deployment_id})",
            hint="make a new plan (`lockgate plan --env ENV`) and review it again",
        )
    if expected_hash != plan.hash:
        raise ConflictError(
            f"the plan for {plan.environment!r} is no longer {expected_hash[:12]} (now {plan.hash[:12]})",
            hint="make a new plan and review it again",
        )


def _record_failure(store: StateStore, evaluator: _Evaluator, exc: BaseException) -> None:
    release = evaluator.request.release
    cancelled = isinstance(exc, KeyboardInterrupt)
    try:
        store.record_failed_deployment(
            {
                "environment": release.environment,
                "project": release.project,
                "action": evaluator.request.action,
                "status": (DeploymentStatus.cancelled if cancelled else DeploymentStatus.failed).value,
                "user": evaluator.request.user,
                "process": current_process(),
                "git_commit": release.commit,
                "release_hash": release.hash,
                "plan_hash": evaluator.plan.hash,
                "base_deployment_id": evaluator.plan.base_deployment_id,
                "note": evaluator.request.note,
                "error": "interrupted" if cancelled else str(exc) or type(exc).__name__,
                "triggers_before": evaluator.before,
                "triggers_after": evaluator.before,
            }
        )
    except Exception:  # the audit record of a failure must not hide the failure itself
        return


def _kill_point(name: str) -> None:
    if os.environ.get(KILL_AT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def deploy(
    store: StateStore,
    release: Release,
    settings: Settings,
    options: DeployOptions,
    *,
    action: str = "deploy",
    note: str | None = None,
) -> DeployResult:
    """Check, confirm and apply a release: the path `deploy`, `rollback` and `promote` share.

    Raises:
        SecretNotFoundError: a referenced secret is missing in the environment.
        UserInputError: confirmation needed and not given.
        ConflictError: approval missing, stale plan, held lock, or another project's environment.
    """
    check_secrets(release, settings)
    deployed = store.deployed_state(release.environment)
    plan = build_plan(release, deployed, resume_all=options.resume_all)
    current = store.last_deployment(release.environment)
    if current is not None:
        check_same_project(release.environment, current.project, release.project)
    expected: SavedPlan | Plan | None = options.saved
    if options.saved is not None:
        _check_expected(plan, options.saved)
    policy = _policy(release, deployed)
    user = deploy_user()
    approvals = store.find_approvals(release.environment, plan.hash)
    approval = next((a for a in approvals if a.approved_by != user), None)
    if approvals and approval is None and policy["require_approval"] and plan.has_changes:
        raise ConflictError(
            f"plan {plan.hash[:12]} was approved by {user}, who is deploying it: approvals need a second person",
            hint="ask a colleague to run `lockgate approve` for this plan",
        )
    if policy["require_approval"] and plan.has_changes and approval is None:
        raise ConflictError(
            f"deploys to {release.environment!r} need an approved plan, and plan {plan.hash[:12]} is not approved",
            hint=f"review it (`lockgate plan --env {release.environment}`), then "
            f"`lockgate approve --env {release.environment} {plan.hash[:12]}`",
        )
    if approval is not None:
        expected = expected or plan
    reason = require_confirmation(plan, protected=policy["protected"])
    if reason and not options.yes and approval is None:
        if options.confirm is None:
            raise refuse_without_confirmation(reason)
        if options.show_plan is not None:
            options.show_plan(plan)
        if not options.confirm(reason):
            raise UserInputError("nothing deployed: not confirmed")
        expected = expected or plan
    return deploy_release(store, DeployRequest(release, user, action, note, expected, options))


def _policy(release: Release, deployed: DeployedState) -> dict[str, bool]:
    """The environment's protection and approval rules: the stricter of what it runs and what is deployed.

    A commit that loosens its own environment's rules is itself deployed under the rules it loosens, and a
    rollback to a release older than a rule is still held to the rule.
    """
    wanted = next(r.definition for r in release.resources if r.kind == "environment")
    running = deployed.resources.get(f"environment/{release.environment}")
    current = running.definition if running is not None else {}
    return {rule: bool(wanted.get(rule)) or bool(current.get(rule)) for rule in ("protected", "require_approval")}


def require_confirmation(plan: Plan, *, protected: bool) -> str | None:
    """Why deploying ``plan`` needs a confirmation (None: it does not).

    A protected environment confirms every deploy that changes something; destructive changes say so.
    """
    if not protected or not plan.has_changes:
        return None
    destructive = plan.destructive_changes
    if destructive:
        names = ", ".join(change.key for change in destructive[:5])
        return (
            f"deploy {len(destructive)} destructive change(s) to protected environment {plan.environment!r} ({names})"
        )
    return f"deploy to protected environment {plan.environment!r}"


def refuse_without_confirmation(reason: str) -> UserInputError:
    return UserInputError(
        f"{reason} needs confirmation, and there is no terminal to ask",
        hint="review the plan (`lockgate plan`), then pass --yes, or approve its hash (`lockgate approve`)",
    )
