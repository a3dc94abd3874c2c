"""What every command shares: global options, and how a command finds its project and settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer

if TYPE_CHECKING:
    from lockgate.services.project import Project
    from lockgate.services.settings import Settings


@dataclass
class CliState:
    project: Path | None
    debug: bool
    state_url: str | None = None

    current: ClassVar[CliState | None] = None


def state() -> CliState:
    return CliState.current or CliState(project=None, debug=False)


def load_project() -> Project:
    from lockgate.services.project import load_project as load

    return load(state().project)


def settings() -> Settings:
    from pydantic import ValidationError

    from lockgate.errors import UserInputError
    from lockgate.services.settings import Settings

    try:
        overrides: dict[str, object] = {}
        if state().debug:
            overrides["debug"] = True
        if state().state_url:
            overrides["state_url"] = state().state_url
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"LOCKGATE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise UserInputError(f"bad lockgate setting: {problems}", hint="fix or unset the environment variable") from exc


EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        help="Environment (default: the project's default_environment, normally dev).",
        show_default=False,
    ),
]


def parse_assignments(values: list[str] | None, *, option: str) -> dict[str, str]:
    """`NAME=VALUE` pairs from repeated options."""
    from lockgate.errors import UserInputError

    result: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserInputError(f"{option} {item!r} is not NAME=VALUE", hint=f"e.g. {option} run_date=2024-01-31")
        result[name.strip()] = value
    return result
