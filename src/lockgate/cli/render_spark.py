"""What `lockgate spark up|down|status` print: start-up progress, the URLs and how to use them, a status table."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from lockgate.cli.render import line, markup
from lockgate.cli.render import table as print_table
from lockgate.cli.render_deploy import ListFormat
from lockgate.services.daemon import ProcessState
from lockgate.services.spark_cluster import LABELS, ClusterEvent, ClusterInfo, ClusterStatus, ComponentStarting

_STATE_TEXT = {
    ProcessState.running: "[green]running[/]",
    ProcessState.exited: "[red]stale: process gone[/]",
    ProcessState.replaced: "[red]stale: pid now runs another program[/]",
}


class ClusterProgress:
    """Event sink for `start_cluster`: a spinner per component on a terminal, plain lines elsewhere."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ClusterProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def handle(self, event: ClusterEvent) -> None:
        label = LABELS.get(event.name, event.name)
        if isinstance(event, ComponentStarting):
            if self.console.is_terminal:
                self._tasks[event.name] = self._progress.add_task(f"starting the {label}", total=1)
            else:
                self.console.print(f"starting the {label}")
            return
        text = f"[green]✓[/] {label} ready in {event.seconds:.1f}s  {escape(event.url)}".rstrip()
        task = self._tasks.get(event.name)
        if task is not None:
            self._progress.update(task, description=text, completed=1)
        else:
            self.console.print(text)


def cluster_started(cluster: ClusterInfo) -> None:
    if cluster.already_running:
        line(f"The project's Spark cluster is already running (started {cluster.started_at}).")
        line("To change its ports, cores or memory, run `lockgate spark down` first.")
    else:
        options = cluster.options
        line(f"Local Spark cluster running: 1 worker with {options.cores} cores and {options.memory}.")
    _urls(cluster)
    line("")
    line("Run pipelines on it:")
    line(f"  LOCKGATE_SPARK_MASTER={cluster.master_url} lockgate run PIPELINE --engine spark")
    line(f"  or in lockgate.yaml:  spark: {{master: {cluster.master_url}}}")
    if cluster.connect_url:
        line(f"  or through Spark Connect:  LOCKGATE_SPARK_MASTER={cluster.connect_url}")
        line(f'  from PySpark: SparkSession.builder.remote("{cluster.connect_url}").getOrCreate()')
    line("Stop it with `lockgate spark down`.")


def cluster_status(status: ClusterStatus, output_format: ListFormat) -> None:
    cluster = status.cluster
    if output_format is ListFormat.json:
        line(json.dumps(_status_json(status), indent=2))
        return
    if cluster is None:
        line("No Spark cluster is running for this project; start one with `lockgate spark up`.")
        return
    table = Table(title=f"Spark cluster started {cluster.started_at}", title_justify="left")
    for column in ("component", "pid", "state", "url"):
        table.add_column(column, no_wrap=column != "state")
    for item in status.components:
        state = _STATE_TEXT[item.state]
        table.add_row(item.component.name, str(item.component.pid), state, escape(item.component.url))
    print_table(table)
    _urls(cluster)
    if not status.is_running:
        markup("[red]Some of the cluster is down.[/] Restart it: `lockgate spark down`, then `lockgate spark up`.")


def cluster_stopped(status: ClusterStatus) -> None:
    if status.cluster is None:
        line("Nothing to stop: no Spark cluster is running for this project.")
        return
    stopped = [
        LABELS.get(s.component.name, s.component.name) for s in status.components if s.state is ProcessState.running
    ]
    gone = [s.component.name for s in status.components if s.state is not ProcessState.running]
    if stopped:
        line(f"Stopped the {', the '.join(stopped)}.")
    if gone:
        line(f"Already gone: {', '.join(gone)} (forgotten).")


def _urls(cluster: ClusterInfo) -> None:
    line(f"  master   {cluster.master_url}")
    line(f"  web UI   {cluster.webui_url}")
    if cluster.connect_url:
        line(f"  connect  {cluster.connect_url}")
    line(f"  logs     {_shown(cluster.log_folder)}")


def _status_json(status: ClusterStatus) -> dict[str, object]:
    cluster = status.cluster
    if cluster is None:
        return {"running": False, "components": []}
    return {
        "running": status.is_running,
        "master_url": cluster.master_url,
        "webui_url": cluster.webui_url,
        "connect_url": cluster.connect_url,
        "started_at": cluster.started_at,
        "logs": str(cluster.log_folder),
        "components": [
            {"name": s.component.name, "pid": s.component.pid, "state": s.state.value, "url": s.component.url}
            for s in status.components
        ],
    }


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
