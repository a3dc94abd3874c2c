"""Opening the state store a project uses (SQLite in `.lockgate/` unless configured otherwise)."""

from __future__ import annotations

from lockgate.services.project import Project
from lockgate.services.settings import Settings
from lockgate.state import StateStore


def open_state(project: Project, settings: Settings) -> StateStore:
    return StateStore.open(settings.state_url_for(project.root))
