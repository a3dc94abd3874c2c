"""A recorded run as a tree: activities with their attempts, container passes, child pipeline runs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from lockgate.state import ActivityRunRecord, RunRecord, StateStore

MAX_CHILD_DEPTH = 16


@dataclass(frozen=True, slots=True)
class ActivityNode:
    """One activity of a list: its attempts (oldest first), and what ran inside it."""

    key: str
    """Unique in the run: `loop[2]/load`."""
    attempts: tuple[ActivityRunRecord, ...]
    passes: tuple[tuple[str, tuple[ActivityNode, ...]], ...] = ()
    """For containers: (iteration label, that pass's activities)."""
    child_run: RunTree | None = None
    """For `pipeline` activities: the child pipeline's run."""

    @property
    def last(self) -> ActivityRunRecord:
        return self.attempts[-1]


@dataclass(frozen=True, slots=True)
class RunTree:
    run: RunRecord
    activities: tuple[ActivityNode, ...] = field(default_factory=tuple)

    def walk(self) -> list[tuple[int, ActivityNode]]:
        """Every node with its depth, depth first (child runs included)."""
        found: list[tuple[int, ActivityNode]] = []

        def visit(nodes: tuple[ActivityNode, ...], depth: int) -> None:
            for node in nodes:
                found.append((depth, node))
                for _, children in node.passes:
                    visit(children, depth + 1)
                if node.child_run is not None:
                    visit(node.child_run.activities, depth + 1)

        visit(self.activities, 0)
        return found


def load_run_tree(store: StateStore, run_id: str, *, depth: int = 0, prefix: str = "") -> RunTree:
    """The run ``run_id`` (an id or unique prefix) as a tree.

    Raises:
        NotFoundError: no such run.
    """
    run = store.get_run(run_id)
    by_parent: dict[int | None, list[ActivityRunRecord]] = defaultdict(list)
    for record in store.list_activity_runs(run.id):
        by_parent[record.parent_id].append(record)
    children = {child.id for child in store.list_child_runs(run.id)} if depth < MAX_CHILD_DEPTH else set()

    def build(records: list[ActivityRunRecord], prefix: str) -> tuple[ActivityNode, ...]:
        attempts_by_name: dict[str, list[ActivityRunRecord]] = {}
        for record in records:
            attempts_by_name.setdefault(record.activity, []).append(record)
        nodes = []
        for name, attempts in attempts_by_name.items():
            key = f"{prefix}{name}"
            inner_by_label: dict[str, list[ActivityRunRecord]] = {}
            for attempt in attempts:
                for inner in by_parent.get(attempt.id, []):
                    inner_by_label.setdefault(inner.iteration or "", []).append(inner)
            passes = tuple((label, build(inner, f"{key}[{label}]/")) for label, inner in inner_by_label.items())
            child_id = _child_run_id(attempts[-1])
            child = load_run_tree(store, child_id, depth=depth + 1, prefix=f"{key}/") if child_id in children else None
            nodes.append(ActivityNode(key, tuple(attempts), passes, child))
        return tuple(nodes)

    return RunTree(run, build(by_parent.get(None, []), prefix))


def _child_run_id(record: ActivityRunRecord) -> str | None:
    output = record.output
    if record.activity_type == "pipeline" and isinstance(output, dict):
        value = output.get("pipelineRunId")
        return value if isinstance(value, str) else None
    return None
