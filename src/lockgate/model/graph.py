"""Directed acyclic graphs of named nodes: the cycle path when there is one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter


@dataclass(frozen=True, slots=True)
class Cycle:
    """A dependency cycle, as the path that closes it: ``a -> b -> a``."""

    path: tuple[str, ...]

    def __str__(self) -> str:
        return " -> ".join(self.path)


def find_cycle(edges: Mapping[str, Iterable[str]]) -> Cycle | None:
    """The first cycle in ``edges`` (node -> the nodes it depends on), or None."""
    try:
        TopologicalSorter({node: tuple(deps) for node, deps in edges.items()}).prepare()
    except CycleError as exc:
        nodes = list(exc.args[1])
        # graphlib reports the cycle with the repeated node last and edges reversed (dependency order).
        return Cycle(tuple(reversed(nodes)))
    return None
