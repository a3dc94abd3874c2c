"""`lockgate build`: the release of a project for one environment, from the working tree or a Git commit.

A protected environment refuses a working tree with uncommitted changes: what reaches it must be in Git.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lockgate.errors import ConflictError
from lockgate.model.hashing import hash_bytes
from lockgate.model.project import resolve_environment
from lockgate.model.release import Release, Resource, build_release, make_resource
from lockgate.services import git
from lockgate.services.project import Project, find_project_root, load_project


def build_project_release(start: Path | None, environment: str | None, *, commit: str | None = None) -> Release:
    """Build the release of the project at ``start`` (or at ``commit``) for ``environment``.

    Raises:
        ConflictError: a protected environment and uncommitted changes in the working tree.
        NotFoundError: an unknown environment or Git revision.
        ProjectError: the project (at that commit) does not validate.
    """
    with _project_source(start, commit) as (project, revision, dirty):
        env = resolve_environment(project.config, environment)
        if env.protected and dirty:
            raise ConflictError(
                f"environment {env.name!r} is protected and the working tree has uncommitted changes",
                hint="commit them (what reaches a protected environment must be in Git), or build a commit: "
                "--commit HEAD",
            )
        return build_release(
            project.config.name, env.name, _resources(project, env.name, env.vars), commit=revision, dirty=dirty
        )


@contextmanager
def _project_source(start: Path | None, commit: str | None) -> Iterator[tuple[Project, str | None, bool]]:
    if commit is None:
        project = load_project(start)
        head = git.head_revision(project.root)
        dirty = bool(git.uncommitted_changes(project.root)) if head is not None else False
        yield project, head.sha if head else None, dirty
        return
    # Only the commit's files matter: the working tree may be mid-edit, even invalid.
    with git.checkout(find_project_root(start), commit) as (folder, revision):
        yield load_project(folder), revision.sha, False


def _resources(project: Project, environment: str, values: dict[str, Any]) -> list[Resource]:
    env = project.config.environments[environment]
    resources = [
        make_resource(
            "environment",
            environment,
            {
                "lake": env.lake,
                "catalog": env.catalog or environment,
                "engine": env.engine or project.config.engine,
                "protected": env.protected,
                "vars": dict(values),
            },
        )
    ]
    resources += [
        make_resource("connection", name, connection.model_dump(mode="json"))
        for name, connection in project.config.connections.items()
    ]
    resources += [
        make_resource("pipeline", name, source.pipeline.model_dump(mode="json"))
        for name, source in project.pipelines.items()
    ]
    resources += [
        Resource("notebook", path, {"path": path}, hash_bytes((project.root / path).read_bytes()))
        for path in sorted(project.notebooks)
    ]
    for name, source in project.triggers.items():
        definition = source.trigger.model_dump(mode="json", exclude={"started_in"})
        state = "started" if source.trigger.is_started_in(environment) else "stopped"
        resources.append(make_resource("trigger", name, definition, state=state))
    return resources
