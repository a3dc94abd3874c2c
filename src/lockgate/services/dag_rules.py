"""Azure Data Factory's rules for dependency conditions and run status, as pure functions.

- A dependency holds when its activity's status matches one of its conditions (``completed`` = succeeded or
  failed); an activity runs when all its dependencies hold, and is ``skipped`` as soon as one can no longer
  hold. Skipping therefore propagates down `succeeded` paths.
- A list of activities (a pipeline, or a container's pass) succeeds when every *leaf* (an activity no other
  depends on) succeeded, where a skipped leaf is judged by its parents instead, recursively. So a failure
  handled by an `on failure` path (try/catch) leaves the run succeeded, while a do-if-else whose `on success`
  leaf was skipped after a failure fails.
- Any cancelled activity makes the list cancelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lockgate.model.activities import ActivityBase, Condition, Dependency
from lockgate.state import ActivityStatus

_SATISFIES: dict[Condition, frozenset[ActivityStatus]] = {
    Condition.succeeded: frozenset({ActivityStatus.succeeded}),
    Condition.failed: frozenset({ActivityStatus.failed}),
    Condition.skipped: frozenset({ActivityStatus.skipped}),
    Condition.completed: frozenset({ActivityStatus.succeeded, ActivityStatus.failed}),
}


def dependency_holds(dependency: Dependency, status: ActivityStatus) -> bool:
    return any(status in _SATISFIES[condition] for condition in dependency.conditions)


def readiness(activity: ActivityBase, statuses: Mapping[str, ActivityStatus]) -> bool | None:
    """True: may start now; False: can never start (skip it); None: wait for its dependencies."""
    finished = [d for d in activity.depends_on if d.activity in statuses]
    if any(not dependency_holds(d, statuses[d.activity]) for d in finished):
        return False
    return True if len(finished) == len(activity.depends_on) else None


def unmet_dependencies(activity: ActivityBase, statuses: Mapping[str, ActivityStatus]) -> list[str]:
    """``name (status)`` of each finished dependency whose conditions do not hold."""
    return [
        f"{d.activity} ({statuses[d.activity].value}, needed {' or '.join(c.value for c in d.conditions)})"
        for d in activity.depends_on
        if d.activity in statuses and not dependency_holds(d, statuses[d.activity])
    ]


@dataclass(frozen=True, slots=True)
class ListVerdict:
    status: ActivityStatus
    """succeeded, failed or cancelled."""
    deciding_failures: tuple[str, ...] = ()
    """The failed activities that made the list fail (the unhandled failures)."""


def judge(activities: Sequence[ActivityBase], statuses: Mapping[str, ActivityStatus]) -> ListVerdict:
    """The status of a finished list of activities, by ADF's leaf rule (see the module docstring)."""
    if any(statuses.get(a.name, ActivityStatus.cancelled) == ActivityStatus.cancelled for a in activities):
        return ListVerdict(ActivityStatus.cancelled)
    parents = {a.name: [d.activity for d in a.depends_on] for a in activities}
    has_dependents = {d.activity for a in activities for d in a.depends_on}
    failures: list[str] = []
    for leaf in (a.name for a in activities if a.name not in has_dependents):
        failures += _failed_below(leaf, parents, statuses, set())
    if failures:
        return ListVerdict(ActivityStatus.failed, tuple(dict.fromkeys(failures)))
    return ListVerdict(ActivityStatus.succeeded)


def _failed_below(
    name: str, parents: Mapping[str, Iterable[str]], statuses: Mapping[str, ActivityStatus], seen: set[str]
) -> list[str]:
    """The activities that make ``name`` count as not succeeded: itself, or for a skipped one, its parents'."""
    if name in seen:
        return []
    seen.add(name)
    status = statuses[name]
    if status == ActivityStatus.succeeded:
        return []
    if status == ActivityStatus.skipped:
        return [failed for parent in parents[name] for failed in _failed_below(parent, parents, statuses, seen)]
    return [name]
