"""`lockgate build`: the release of a project for one environment, from the working tree or a Git commit.

A protected environment refuses a working tree with uncommitted changes: what reaches it must be in Git.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lockgate.errors import ConflictError
from lockgate.model.activities import ExecutePipelineActivity
from lockgate.model.project import EnvironmentContext, resolve_environment
from lockgate.model.release import Release, Resource, build_release, make_resource
from lockgate.model.trigger import FileTrigger
from lockgate.services import git
from lockgate.services.project import PipelineSource, Project, find_project_root, is_project_source, load_project


def build_project_release(
    start: Path | None, environment: str | None, *, commit: str | None = None, project: Project | None = None
) -> Release:
    """Build the release of the project at ``start`` (or at ``commit``) for ``environment``.

    ``project``: the working tree's project, when the caller has loaded it already (it is not read twice).

    Raises:
        ConflictError: a protected environment and uncommitted changes in the working tree.
        NotFoundError: an unknown environment or Git revision.
        ProjectError: the project (at that commit) does not validate.
    """
    with _project_source(start, commit, project) as (project, revision, dirty):
        env = resolve_environment(project.config, environment)
        if env.protected and dirty:
            raise ConflictError(
                f"environment {env.name!r} is protected and the working tree has uncommitted changes",
                hint="commit them (what reaches a protected environment must be in Git), or build a commit: "
                "--commit HEAD",
            )
        return build_release(project.config.name, env.name, _resources(project, env), commit=revision, dirty=dirty)


@contextmanager
def _project_source(
    start: Path | None, commit: str | None, loaded: Project | None
) -> Iterator[tuple[Project, str | None, bool]]:
    if commit is None:
        project = loaded or load_project(start)
        head = git.head_revision(project.root)
        # Only changes to what the release is made of count: a saved plan or a scratch file does not.
        changed = git.uncommitted_changes(project.root) if head is not None else []
        dirty = any(is_project_source(path) for path in changed)
        yield project, head.sha if head else None, dirty
        return
    # Only the commit's files matter: the working tree may be mid-edit, even invalid.
    with git.checkout(find_project_root(start), commit) as (folder, revision):
        yield load_project(folder), revision.sha, False


def _resources(project: Project, env: EnvironmentContext) -> list[Resource]:
    resources = [
        make_resource(
            "environment",
            env.name,
            {
                "lake": env.lake,
                "catalog": env.catalog,
                "engine": env.engine,
                "protected": env.protected,
                "require_approval": env.require_approval,
                "secret_scope": env.secret_scope,
                "vars": dict(env.vars),
            },
        )
    ]
    resources += [
        make_resource("connection", name, connection.model_dump(mode="json"))
        for name, connection in project.config.connections.items()
    ]
    for name, source in project.pipelines.items():
        used = sorted(
            {f"notebook/{path}" for path in project.pipeline_files(source.pipeline)} | _pipeline_references(source)
        )
        resources.append(
            make_resource(
                "pipeline", name, source.pipeline.model_dump(mode="json", exclude_defaults=True), depends_on=tuple(used)
            )
        )
    resources += [
        make_resource("notebook", path, {"path": path, "source": project.read_source(path)})
        for path in sorted(project.notebooks)
    ]
    for name, trigger_source in project.triggers.items():
        trigger = trigger_source.trigger
        definition = trigger.model_dump(mode="json", exclude={"started_in"})
        state = "started" if trigger.is_started_in(env.name) else "stopped"
        depends_on = [f"pipeline/{trigger.pipeline}"]
        if isinstance(trigger, FileTrigger):
            depends_on.append(f"connection/{trigger.connection}")
        resources.append(make_resource("trigger", name, definition, state=state, depends_on=tuple(depends_on)))
    return resources


def _pipeline_references(source: PipelineSource) -> set[str]:
    """Keys of the child pipelines and connections a pipeline's activities use."""
    keys: set[str] = set()
    for _, activity in source.pipeline.all_activities():
        if isinstance(activity, ExecutePipelineActivity):
            keys.add(f"pipeline/{activity.pipeline}")
        for part in (activity, getattr(activity, "source", None), getattr(activity, "sink", None)):
            connection = getattr(part, "connection", None)
            if isinstance(connection, str):
                keys.add(f"connection/{connection}")
    return keys
