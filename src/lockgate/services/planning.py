"""`lockgate plan`: the release of the project for an environment, compared with what the environment runs.

A plan is also where a deploy's inputs are checked before anything is locked: every ``secret:NAME`` the release
references must exist in the environment's secret scope (only existence is checked: no value is read into
state or logs), and a saved plan must belong to this project, environment and release.
"""

from __future__ import annotations

from pathlib import Path

from lockgate.engine.secrets import SecretStore
from lockgate.errors import ConflictError, SecretNotFoundError, UserInputError
from lockgate.model.plan import Plan, build_plan
from lockgate.model.plan_document import SavedPlan, read_saved_plan
from lockgate.model.release import Release, find_secret_references
from lockgate.services.settings import Settings
from lockgate.state import StateStore


def plan_release(store: StateStore, release: Release, *, resume_all: bool = False) -> Plan:
    """The plan that deploys ``release`` to its environment, against the state stored now."""
    return build_plan(release, store.deployed_state(release.environment), resume_all=resume_all)


def check_secrets(release: Release, settings: Settings) -> None:
    """Raise if a secret the release references is missing from its environment's scope.

    Raises:
        SecretNotFoundError: listing every missing secret, the resources that use it and where to set it.
    """
    env = next(r for r in release.resources if r.kind == "environment")
    scope = str(env.definition.get("secret_scope") or release.environment)
    secrets = SecretStore(secrets_file=settings.secrets_file)
    missing: dict[str, list[str]] = {}
    places: dict[str, str] = {}
    for reference in find_secret_references(release, scope):
        if not secrets.has(reference.scope, reference.key):
            missing.setdefault(reference.name, []).append(reference.resource)
            places[reference.name] = secrets.describe(reference.scope, reference.key)
    if missing:
        lines = [f"{name} (used by {', '.join(users)})" for name, users in sorted(missing.items())]
        raise SecretNotFoundError(
            f"{len(missing)} secret(s) referenced by the release do not exist for environment "
            f"{release.environment!r}: " + "; ".join(lines),
            hint="set each one before deploying: " + "; ".join(f"{n}: {places[n]}" for n in sorted(missing)),
        )


def load_saved_plan(path: Path) -> SavedPlan:
    """Raises: UserInputError: the file is missing or is not a saved plan."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"cannot read the plan file {path}: {exc}") from exc
    return read_saved_plan(text, str(path))


def check_saved_plan(saved: SavedPlan, release: Release, file: Path) -> None:
    """Refuse a saved plan made for another project, environment or release.

    Raises:
        UserInputError: it names another project or environment.
        ConflictError: the project now builds another release than the plan's.
    """
    if saved.project != release.project:
        raise UserInputError(
            f"{file} is a plan of project {saved.project!r}, not of {release.project!r}",
            hint="run `lockgate plan --env ENV --out FILE` in this project",
        )
    if saved.environment != release.environment:
        raise UserInputError(
            f"{file} is a plan for environment {saved.environment!r}, not {release.environment!r}",
            hint=f"deploy it with --env {saved.environment}, or make a plan for {release.environment!r}",
        )
    if saved.release.hash != release.hash:
        made_from = f"commit {saved.release.commit[:12]}" if saved.release.commit else "a working tree"
        now = f"commit {release.commit[:12]}" if release.commit else "the working tree"
        raise ConflictError(
            f"{file} was made for release {saved.release.hash[:12]} (from {made_from}), but {now} builds release "
            f"{release.hash[:12]}",
            hint="check out the plan's commit (or deploy with --commit), or make a new plan",
        )
