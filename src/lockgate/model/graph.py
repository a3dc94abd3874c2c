"""Directed acyclic graphs of named nodes: order, levels and the cycle path when there is one."""

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


def topological_order(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """Nodes so that each comes after all of its dependencies; ties keep declaration order.

    Raises:
        ValueError: the graph has a cycle (check with :func:`find_cycle` first for a good message).
    """
    position = {node: index for index, node in enumerate(edges)}
    sorter = TopologicalSorter({node: tuple(deps) for node, deps in edges.items()})
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda node: position.get(node, len(position)))
        order.extend(ready)
        sorter.done(*ready)
    return order
