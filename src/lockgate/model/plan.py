"""Plans: what deploying a release to an environment changes, from the release and the deployed state. Pure.

:func:`build_plan` compares every resource of the release with what the environment runs:

- ``create`` / ``update`` / ``delete`` / ``unchanged`` per resource, with the reasons of an update (which part of
  the definition changed: its parameters, its schedule, its dependencies, the rest) and a readable diff;
- drift: deployed state changed outside a deploy (a definition edited in the state store, a deployed resource
  removed by hand, a trigger started by hand). Git wins: the plan restores Git's version and says so;
- trigger actions: the triggers a deploy pauses and resumes (only those whose definition, pipeline or notebooks
  change), starts or stops. A trigger an operator paused stays paused unless ``resume_all``.

The plan hash covers the release, the deployed state it was made against and every action, so an approval or a
saved plan can be checked against the state a deploy finds.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lockgate.model.hashing import combine_hashes, hash_value
from lockgate.model.release import Release, Resource

DIFF_LINE_LIMIT = 200
"""Diff lines shown per resource; the rest is summarised."""


class ChangeAction(StrEnum):
    create = "create"
    update = "update"
    delete = "delete"
    unchanged = "unchanged"


class ChangeReason(StrEnum):
    """Why a resource changes: the part of its definition that differs, or drift."""

    DEFINITION = "definition"
    PARAMETERS = "parameters"
    SCHEDULE = "schedule"
    DEPENDENCIES = "dependencies"
    DRIFT = "drift"


class TriggerActionKind(StrEnum):
    pause_resume = "pause and resume"
    """Running, and its definition, pipeline or notebooks change: paused for the deploy, resumed after."""
    start = "start"
    stop = "stop"
    keep_paused = "keep paused"
    """An operator paused it; it stays paused (``--resume-all`` resumes it)."""


class TriggerState(StrEnum):
    started = "started"
    stopped = "stopped"


# The parts of a definition that have their own reason; whatever else differs is DEFINITION.
_ASPECTS: dict[str, dict[ChangeReason, tuple[str, ...]]] = {
    "trigger": {
        ChangeReason.SCHEDULE: ("cron", "timezone", "interval", "start", "end", "delay", "max_concurrency", "path"),
        ChangeReason.PARAMETERS: ("parameters",),
        ChangeReason.DEPENDENCIES: ("pipeline", "connection"),
    },
    "pipeline": {ChangeReason.PARAMETERS: ("parameters",)},
    "environment": {ChangeReason.PARAMETERS: ("vars",)},
}


@dataclass(frozen=True, slots=True)
class DeployedResource:
    """A resource as the state store holds it for an environment."""

    kind: str
    name: str
    hash: str
    """The hash the deploy recorded."""
    definition: dict[str, Any]
    state: str | None = None
    """The trigger state the deploy wanted (`started`/`stopped`)."""
    actual_hash: str = field(init=False)
    """The hash of the definition as stored now: differs from :attr:`hash` when it was edited by hand."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "actual_hash", hash_value(self.definition))

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class TriggerRuntime:
    """A trigger's runtime state in an environment, and who set it last."""

    name: str
    state: TriggerState
    set_by: str
    """`deploy` or `operator`."""
    actor: str = ""
    changed_at: dt.datetime | None = None

    @property
    def by_actor(self) -> str:
        """`` by NAME`` for messages, or nothing when the actor is unknown."""
        return f" by {self.actor}" if self.actor else ""


@dataclass(frozen=True, slots=True)
class DeployedState:
    """What an environment runs: its resources, its triggers' runtime states and the last deployment."""

    environment: str
    deployment_id: int | None = None
    release_hash: str | None = None
    commit: str | None = None
    resources: Mapping[str, DeployedResource] = field(default_factory=dict)
    released: Mapping[str, str] = field(default_factory=dict)
    """Resource key -> hash, as the last deployment's release had them (to notice resources removed by hand)."""
    triggers: Mapping[str, TriggerRuntime] = field(default_factory=dict)

    @property
    def state_hash(self) -> str:
        """Changes with any deploy, hand edit or trigger state change: what a saved plan was made against."""
        parts = [f"deployment:{self.deployment_id}"]
        parts += [f"resource:{key}:{r.actual_hash}:{r.state}" for key, r in sorted(self.resources.items())]
        parts += [f"trigger:{name}:{t.state}:{t.set_by}" for name, t in sorted(self.triggers.items())]
        return combine_hashes(parts)


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    name: str
    action: ChangeAction
    reasons: tuple[ChangeReason, ...] = ()
    diff: tuple[str, ...] = ()
    """Unified-diff lines (without headers) from the deployed definition to the release's."""
    old_hash: str | None = None
    new_hash: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def destructive(self) -> bool:
        return self.action is ChangeAction.delete


@dataclass(frozen=True, slots=True)
class TriggerAction:
    name: str
    action: TriggerActionKind
    before: TriggerState | None
    """Runtime state now (None: not deployed yet)."""
    after: TriggerState | None
    """Runtime state after the deploy (None: the trigger is deleted)."""
    reason: str


@dataclass(frozen=True, slots=True)
class Drift:
    key: str
    description: str


@dataclass(frozen=True, slots=True)
class Plan:
    project: str
    environment: str
    release_hash: str
    commit: str | None
    dirty: bool
    base_deployment_id: int | None
    base_state_hash: str
    changes: tuple[Change, ...]
    trigger_actions: tuple[TriggerAction, ...]
    drift: tuple[Drift, ...]
    final_trigger_states: Mapping[str, TriggerState]
    """Every trigger of the release and its runtime state after the deploy."""
    new_triggers: tuple[str, ...]
    """Triggers without a runtime state in the environment yet: the deploy gives them one."""
    removed_triggers: tuple[str, ...]
    """Deployed triggers the release no longer has: their runtime state goes with them."""
    hash: str

    @property
    def counts(self) -> dict[str, int]:
        return {action.value: sum(c.action is action for c in self.changes) for action in ChangeAction}

    @property
    def has_changes(self) -> bool:
        return any(c.action is not ChangeAction.unchanged for c in self.changes) or any(
            a.after != a.before for a in self.trigger_actions
        )

    @property
    def destructive_changes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.destructive)

    @property
    def paused_triggers(self) -> tuple[str, ...]:
        """Triggers the deploy pauses while it applies changes (running ones that change or are removed)."""
        return tuple(
            a.name
            for a in self.trigger_actions
            if a.before is TriggerState.started and a.action in (TriggerActionKind.pause_resume, TriggerActionKind.stop)
        )


def build_plan(release: Release, deployed: DeployedState, *, resume_all: bool = False) -> Plan:
    """The plan that takes ``deployed`` to ``release``."""
    changes: list[Change] = []
    drift: list[Drift] = []
    wanted = {resource.key: resource for resource in release.resources}
    for resource in release.resources:
        change, resource_drift = _compare(resource, deployed)
        changes.append(change)
        drift += resource_drift
    for key, current in sorted(deployed.resources.items()):
        if key not in wanted:
            changes.append(Change(current.kind, current.name, ChangeAction.delete, old_hash=current.hash))
            if key not in deployed.released and deployed.released:
                drift.append(Drift(key, "added to the state store outside a deploy"))
    changed = {c.key for c in changes if c.action is not ChangeAction.unchanged}
    trigger_actions, final_states, trigger_drift = _trigger_actions(release, deployed, changed, resume_all=resume_all)
    drift += trigger_drift
    base_state_hash = deployed.state_hash
    plan_hash = hash_value(
        {
            "project": release.project,
            "environment": release.environment,
            "release": release.hash,
            "base": base_state_hash,
            "changes": [[c.key, c.action.value] for c in changes],
            "triggers": [[a.name, a.action.value, a.after] for a in trigger_actions],
        }
    )
    return Plan(
        project=release.project,
        environment=release.environment,
        release_hash=release.hash,
        commit=release.commit,
        dirty=release.dirty,
        base_deployment_id=deployed.deployment_id,
        base_state_hash=base_state_hash,
        changes=tuple(changes),
        trigger_actions=tuple(trigger_actions),
        drift=tuple(drift),
        final_trigger_states=final_states,
        new_triggers=tuple(sorted(set(final_states) - set(deployed.triggers))),
        removed_triggers=tuple(sorted(set(deployed.triggers) - set(final_states))),
        hash=plan_hash,
    )


def _compare(resource: Resource, deployed: DeployedState) -> tuple[Change, list[Drift]]:
    current = deployed.resources.get(resource.key)
    if current is None:
        if resource.key in deployed.released:
            removed = Drift(resource.key, "deleted from the state store outside a deploy; the deploy restores it")
            change = Change(
                resource.kind, resource.name, ChangeAction.create, (ChangeReason.DRIFT,), new_hash=resource.hash
            )
            return change, [removed]
        return Change(resource.kind, resource.name, ChangeAction.create, new_hash=resource.hash), []
    drift: list[Drift] = []
    reasons: list[ChangeReason] = []
    if current.actual_hash != current.hash:
        drift.append(Drift(resource.key, "definition edited in the state store outside a deploy; Git's version wins"))
        reasons.append(ChangeReason.DRIFT)
    if current.actual_hash == resource.hash and not reasons:
        unchanged = Change(
            resource.kind, resource.name, ChangeAction.unchanged, old_hash=current.hash, new_hash=resource.hash
        )
        return unchanged, drift
    if current.actual_hash != resource.hash:
        reasons += change_reasons(resource.kind, current.definition, resource.definition)
    return (
        Change(
            resource.kind,
            resource.name,
            ChangeAction.update,
            tuple(reasons),
            definition_diff(resource.kind, current.definition, resource.definition),
            old_hash=current.hash,
            new_hash=resource.hash,
        ),
        drift,
    )


def change_reasons(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ChangeReason]:
    """Which parts of a definition differ, in the order of :class:`ChangeReason`."""
    aspects = _ASPECTS.get(kind, {})
    reasons: set[ChangeReason] = set()
    covered: set[str] = set()
    for reason, keys in aspects.items():
        covered.update(keys)
        if any(old.get(key) != new.get(key) for key in keys):
            reasons.add(reason)
    if kind == "pipeline":
        if _activity_dependencies(old) != _activity_dependencies(new):
            reasons.add(ChangeReason.DEPENDENCIES)
        if _without_dependencies(old) != _without_dependencies(new):
            reasons.add(ChangeReason.DEFINITION)
    elif any(old.get(key) != new.get(key) for key in (set(old) | set(new)) - covered):
        reasons.add(ChangeReason.DEFINITION)
    return [reason for reason in ChangeReason if reason in reasons]


def _activity_dependencies(definition: Mapping[str, Any]) -> dict[str, Any]:
    return {a.get("name"): a.get("depends_on") for a in definition.get("activities", ())}


def _without_dependencies(definition: Mapping[str, Any]) -> Any:
    rest = {key: value for key, value in definition.items() if key != "parameters"}
    rest["activities"] = [
        {key: value for key, value in activity.items() if key != "depends_on"}
        for activity in definition.get("activities", ())
    ]
    return rest


def definition_diff(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """A unified diff (one line of context, no file headers) between two definitions, as readable lines."""
    if kind == "notebook":
        old_lines = str(old.get("source", "")).splitlines()
        new_lines = str(new.get("source", "")).splitlines()
    else:
        old_lines, new_lines = flatten_definition(old), flatten_definition(new)
    lines = list(difflib.unified_diff(old_lines, new_lines, n=1, lineterm=""))[2:]
    if len(lines) > DIFF_LINE_LIMIT:
        lines = [*lines[:DIFF_LINE_LIMIT], f"... {len(lines) - DIFF_LINE_LIMIT} more diff lines"]
    return tuple(lines)


def flatten_definition(value: Any, prefix: str = "") -> list[str]:
    """``path: value`` lines, one per leaf, e.g. ``activities[0].parameters.year: 2024``."""
    if isinstance(value, Mapping) and value:
        lines: list[str] = []
        for key in sorted(value):
            lines += flatten_definition(value[key], f"{prefix}.{key}" if prefix else str(key))
        return lines
    if isinstance(value, list | tuple) and value:
        return [line for index, item in enumerate(value) for line in flatten_definition(item, f"{prefix}[{index}]")]
    return [f"{prefix}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}"]


def _trigger_actions(
    release: Release, deployed: DeployedState, changed: set[str], *, resume_all: bool
) -> tuple[list[TriggerAction], dict[str, TriggerState], list[Drift]]:
    actions: list[TriggerAction] = []
    final: dict[str, TriggerState] = {}
    drift: list[Drift] = []
    by_key = {r.key: r for r in release.resources}
    for resource in release.resources:
        if resource.kind != "trigger":
            continue
        wanted = TriggerState(resource.state or TriggerState.stopped)
        runtime = deployed.triggers.get(resource.name)
        affected = _affected_by(resource, by_key, changed)
        action, after, trigger_drift = _trigger_action(resource, wanted, runtime, affected, resume_all=resume_all)
        final[resource.name] = after
        drift += trigger_drift
        if action is not None:
            actions.append(action)
    for name, runtime in sorted(deployed.triggers.items()):
        if name not in final and runtime.state is TriggerState.started:
            actions.append(TriggerAction(name, TriggerActionKind.stop, runtime.state, None, "removed from Git"))
    return actions, final, drift


def _trigger_action(
    resource: Resource,
    wanted: TriggerState,
    runtime: TriggerRuntime | None,
    affected: str | None,
    *,
    resume_all: bool,
) -> tuple[TriggerAction | None, TriggerState, list[Drift]]:
    name = resource.name
    started, stopped = TriggerState.started, TriggerState.stopped
    if runtime is None:
        if wanted is started:
            return TriggerAction(name, TriggerActionKind.start, None, started, "new, started here"), started, []
        return None, stopped, []
    if runtime.state is started:
        if wanted is stopped:
            if runtime.set_by == "operator":
                drift = Drift(f"trigger/{name}", f"started by hand{runtime.by_actor}; Git has it stopped here")
                return (
                    TriggerAction(name, TriggerActionKind.stop, started, stopped, "started by hand"),
                    stopped,
                    [drift],
                )
            return TriggerAction(name, TriggerActionKind.stop, started, stopped, "stopped here"), stopped, []
        if affected:
            return TriggerAction(name, TriggerActionKind.pause_resume, started, started, affected), started, []
        return None, started, []
    if wanted is started:
        if runtime.set_by == "operator" and not resume_all:
            reason = f"paused{runtime.by_actor}; --resume-all resumes it"
            return TriggerAction(name, TriggerActionKind.keep_paused, stopped, stopped, reason), stopped, []
        reason = "paused by an operator; --resume-all" if runtime.set_by == "operator" else "started here"
        return TriggerAction(name, TriggerActionKind.start, stopped, started, reason), started, []
    return None, stopped, []


def _affected_by(trigger: Resource, resources: Mapping[str, Resource], changed: set[str]) -> str | None:
    """What makes a running trigger pause for the deploy: its own change, or a change to what it runs."""
    if trigger.key in changed:
        return "trigger changes"
    for key in _closure(trigger.depends_on, resources):
        if key in changed:
            return f"{key} changes"
    return None


def _closure(start: Iterable[str], resources: Mapping[str, Resource]) -> list[str]:
    """``start`` and everything it depends on, breadth first."""
    seen: dict[str, None] = {}
    pending = deque(start)
    while pending:
        key = pending.popleft()
        if key in seen:
            continue
        seen[key] = None
        resource = resources.get(key)
        if resource is not None:
            pending.extend(resource.depends_on)
    return list(seen)
