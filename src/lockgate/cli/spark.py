"""`lockgate spark up|down|status`: a local Spark standalone cluster (and Spark Connect server) for the project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lockgate.cli.options import state
from lockgate.cli.render_deploy import ListFormat

spark_app = typer.Typer(
    help="Start, stop or inspect a local Spark cluster for the project (master, worker, Spark Connect).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@spark_app.command("up")
def up(
    connect: Annotated[
        bool, typer.Option("--connect", help="Also start a Spark Connect server on the cluster.")
    ] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="The master's port.")] = 7077,
    webui_port: Annotated[int, typer.Option(min=1, max=65535, help="The master's web UI port.")] = 18080,
    connect_port: Annotated[int, typer.Option(min=1, max=65535, help="The Spark Connect server's port.")] = 15002,
    cores: Annotated[int, typer.Option(min=1, help="Cores the worker offers.")] = 2,
    memory: Annotated[str, typer.Option(help="Memory the worker offers executors (512m, 2g).")] = "2g",
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for everything to be ready.")] = 60.0,
) -> None:
    """Start a Spark master and worker (and a Spark Connect server) on 127.0.0.1 and wait until they are ready.

    When the project's cluster already runs, only print its URLs (adding the Connect server if asked for).
    """
    from lockgate.cli import render_spark
    from lockgate.services.spark_cluster import start_cluster

    root = _project_root()
    with render_spark.ClusterProgress() as progress:
        cluster = start_cluster(
            root,
            connect=connect,
            master_port=port,
            webui_port=webui_port,
            connect_port=connect_port,
            cores=cores,
            memory=memory,
            timeout=timeout,
            on_event=progress.handle,
        )
    render_spark.cluster_started(cluster)


@spark_app.command("status")
def status(
    output_format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.text,
) -> None:
    """Show the cluster's processes and URLs. Exit code 0: all running; 1: some are down; 3: none was started."""
    from lockgate.cli import render_spark
    from lockgate.services.spark_cluster import cluster_status

    result = cluster_status(_project_root())
    render_spark.cluster_status(result, output_format)
    if result.cluster is None:
        raise typer.Exit(3)
    if not result.is_running:
        raise typer.Exit(1)


@spark_app.command("down")
def down(
    timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait for each process before killing it.")] = 10.0,
) -> None:
    """Stop the cluster: Connect server, worker, master (does nothing when none runs)."""
    from lockgate.cli import render_spark
    from lockgate.services.spark_cluster import stop_cluster

    render_spark.cluster_stopped(stop_cluster(_project_root(), timeout=timeout))


def _project_root() -> Path:
    """The project folder (`-C`, else the nearest folder with lockgate.yaml); its files need not be valid."""
    from lockgate.services.project import find_project_root

    return find_project_root(state().project)
