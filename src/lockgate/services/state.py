"""Opening the state store a project uses (SQLite in `.lockgate/` unless configured otherwise).

Opening also settles runs whose process died without finishing them (SIGKILL, a crash, a power cut): a run
records the process that runs it, and a run left `running` by a process of this machine that no longer exists is
marked failed ("interrupted"), so `lockgate runs` never shows a dead run as running.
"""

from __future__ import annotations

from lockgate.services.project import Project
from lockgate.services.settings import Settings
from lockgate.state import StateStore
from lockgate.state.processes import is_dead_process


def open_state(project: Project, settings: Settings) -> StateStore:
    store = StateStore.open(settings.state_url_for(project.root, project.config.state_url))
    store.mark_interrupted_runs(is_dead=is_dead_process)
    return store
