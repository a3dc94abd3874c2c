"""Releases: the immutable, content-hashed build of a project for one environment.

A release lists every resource a deploy manages (environment values, connections, pipelines, notebooks,
triggers), each with the hash of its definition. Definitions keep their `{{ expressions }}` unrendered, and a
trigger's started/stopped state is kept apart from its definition, so a value that differs between environments
never makes an unchanged resource look changed. The release hash covers every resource hash and state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lockgate.model.hashing import combine_hashes, hash_value

RESOURCE_KINDS: tuple[str, ...] = ("environment", "connection", "pipeline", "notebook", "trigger")


@dataclass(frozen=True, slots=True)
class Resource:
    """One deployable thing: its kind, name, definition (JSON-able), and the definition's hash."""

    kind: str
    name: str
    definition: dict[str, Any]
    hash: str
    state: str | None = None
    """Runtime state the environment wants (`started`/`stopped` for triggers), outside the definition hash."""
    depends_on: tuple[str, ...] = ()
    """Keys of the resources this one runs (a trigger its pipeline, a pipeline its notebooks)."""

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"

    def entry(self) -> dict[str, Any]:
        """The resource without its definition, as a release lists it (the definition is stored by hash)."""
        depends_on = list(self.depends_on)
        return {"kind": self.kind, "name": self.name, "hash": self.hash, "state": self.state, "depends_on": depends_on}

    @classmethod
    def from_entry(cls, entry: dict[str, Any], definition: dict[str, Any]) -> Resource:
        """The resource :meth:`entry` described, with its definition."""
        depends_on = tuple(entry.get("depends_on") or ())
        return cls(entry["kind"], entry["name"], definition, entry["hash"], entry.get("state"), depends_on)


def make_resource(
    kind: str, name: str, definition: dict[str, Any], *, state: str | None = None, depends_on: tuple[str, ...] = ()
) -> Resource:
    return Resource(kind, name, definition, hash_value(definition), state, depends_on)


@dataclass(frozen=True, slots=True)
class SecretReference:
    """A ``secret:NAME`` value in a definition; ``NAME`` is ``key`` (in the environment's scope) or ``scope/key``."""

    scope: str
    key: str
    resource: str
    """Key of the resource that uses it."""

    @property
    def name(self) -> str:
        return f"{self.scope}/{self.key}"


SECRET_PREFIX = "secret:"


def parse_secret_reference(text: str, default_scope: str) -> tuple[str, str] | None:
    """``(scope, key)`` of a ``secret:key`` / ``secret:scope/key`` string; None for any other value."""
    if not text.startswith(SECRET_PREFIX) or len(text.strip()) <= len(SECRET_PREFIX):
        return None
    scope, _, key = text[len(SECRET_PREFIX) :].strip().rpartition("/")
    return scope or default_scope, key


def find_secret_references(release: Release, default_scope: str) -> list[SecretReference]:
    """Every ``secret:NAME`` string in the release's definitions, once per (secret, resource)."""
    found: dict[tuple[str, str, str], SecretReference] = {}
    for resource in release.resources:
        for text in _strings(resource.definition):
            parsed = parse_secret_reference(text, default_scope)
            if parsed is not None:
                found.setdefault((*parsed, resource.key), SecretReference(*parsed, resource.key))
    return list(found.values())


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


@dataclass(frozen=True, slots=True)
class Release:
    project: str
    environment: str
    commit: str | None
    """The Git commit the release was built from; None outside Git."""
    dirty: bool
    """Built from a working tree with uncommitted changes."""
    resources: tuple[Resource, ...] = field(default_factory=tuple)
    hash: str = ""

    def counts(self) -> dict[str, int]:
        counted = Counter(resource.kind for resource in self.resources)
        return {kind: counted[kind] for kind in RESOURCE_KINDS if counted[kind]}

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "environment": self.environment,
            "commit": self.commit,
            "dirty": self.dirty,
            "hash": self.hash,
            "resources": [{**r.entry(), "definition": r.definition} for r in self.resources],
        }


def build_release(
    project: str, environment: str, resources: list[Resource], *, commit: str | None, dirty: bool
) -> Release:
    """A release of ``resources``, sorted by kind then name, with its hash."""
    order = {kind: index for index, kind in enumerate(RESOURCE_KINDS)}
    ordered = tuple(sorted(resources, key=lambda r: (order.get(r.kind, len(order)), r.name)))
    release_hash = combine_hashes(f"{r.key}:{r.hash}:{r.state or ''}" for r in ordered)
    return Release(project, environment, commit, dirty, ordered, release_hash)
