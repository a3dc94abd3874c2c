"""`lockgate run --rerun` reuses what succeeded; `concurrency` makes runs of a pipeline wait for a slot."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from lockgate.services.project import load_project
from lockgate.services.run_events import RunEvent, WaitingForSlot
from lockgate.services.runner import run_pipeline
from lockgate.state import StateStore

WriteProject = Callable[[dict[str, str]], Path]

GATE = """\
import pathlib
dbutils.widgets.text("greeting", "")
if not pathlib.Path("{root}/open.flag").exists():
    raise RuntimeError("the gate is closed")
print("greeting:", dbutils.widgets.get("greeting"))
"""

RERUN_PIPELINE = """\
variables:
  greeting: {type: string}
activities:
  - {name: prepare, type: set_variable, variable: greeting, value: "hello from the first run"}
  - name: gate
    type: notebook
    notebook: nb/gate.py
    depends_on: [prepare]
    parameters: {greeting: "{{ variables.greeting }}"}
  - {name: publish, type: wait, depends_on: [gate]}
"""


def test_rerun_starts_from_the_failed_activities(run_cli, write_project: WriteProject, tmp_path: Path) -> None:
    root = write_project({"nb/gate.py": GATE.replace("{root}", str(tmp_path)), "pipelines/p.yaml": RERUN_PIPELINE})
    first = run_cli("run", "p", cwd=root)
    assert first.exit_code == 1
    first_id = first.stdout.split()[1]

    (tmp_path / "open.flag").write_text("")
    second = run_cli("run", "--rerun", first_id[:15], cwd=root)
    assert second.exit_code == 0, second.output
    second_id = second.stdout.split()[1]
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        rerun = store.get_run(second_id)
        records = {r.activity: r for r in store.list_activity_runs(second_id)}
    assert rerun.rerun_of == first_id and rerun.pipeline == "p"
    assert records["prepare"].error == f"reused from run {first_id}" and records["prepare"].attempt == 0
    assert records["gate"].status.value == "succeeded" and records["publish"].status.value == "succeeded"
    # The reused set_variable's value reached the notebook that ran again.
    assert "greeting: hello from the first run" in records["gate"].log
    shown = run_cli("runs", "show", second_id, cwd=root).stdout
    assert f"rerun of {first_id}" in shown

    again = run_cli("run", "--rerun", second_id, cwd=root)
    assert again.exit_code == 2 and "succeeded; there is nothing to rerun" in again.stderr
    both = run_cli("run", "p", "--rerun", second_id, cwd=root)
    assert both.exit_code == 2 and "not both" in both.stderr


def test_concurrency_makes_a_second_run_wait_for_a_slot(write_project: WriteProject) -> None:
    root = write_project(
        {"pipelines/p.yaml": "concurrency: 1\nactivities:\n  - {name: hold, type: wait, seconds: 1}\n"}
    )
    url = f"sqlite:///{root}/.lockgate/state.db"
    project = load_project(root)
    waits: list[str] = []
    results = []

    def one_run() -> None:
        def on_event(event: RunEvent) -> None:
            if isinstance(event, WaitingForSlot):
                waits.append(event.message)

        with StateStore.open(url) as store:
            results.append(run_pipeline(project, "p", store=store, on_event=on_event))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r.status.value for r in results] == ["succeeded", "succeeded"]
    assert waits == ["'p' has 1 runs running in 'dev' (its concurrency is 1)"]
    with StateStore.open(url) as store:
        first, second = sorted((store.get_run(r.run_id) for r in results), key=lambda run: run.started_at)
    assert first.finished_at is not None and second.started_at >= first.finished_at
