"""`lockgate spark up|status|down`: a real local cluster once, then the failure paths (most without starting Java)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockgate.errors import EngineError, StateError
from lockgate.services.daemon import ProcessState, process_state
from lockgate.services.spark_cluster import (
    MASTER_CLASS,
    ClusterInfo,
    cluster_folder,
    cluster_status,
    start_cluster,
    stop_cluster,
)

RunCli = Callable[..., Any]

_CLASSIC_JOB = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(sys.argv[1])
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.cores.max", "1")
        .config("spark.executor.memory", "512m")
        .getOrCreate()
    )
    try:
        total = spark.range(1000).selectExpr("sum(id)").collect()[0][0]
        doubled = spark.sparkContext.parallelize(range(10)).map(lambda x: x * 2).sum()  # Python on the executor
        print(total, doubled)
    finally:
        spark.stop()
    """
)
_CONNECT_QUERY = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(sys.argv[1]).create()
    try:
        print(spark.range(10).count())
    finally:
        spark.stop()
    """
)


@pytest.fixture
def project(write_project: Callable[[dict[str, str]], Path]) -> Path:
    return write_project({})


def _python(*scripts: tuple[str, str], cwd: Path) -> list[str]:
    """Run PySpark clients, each ``(script, url)`` in a process of its own (so a driver JVM ends with it), at once.

    In ``cwd``: a classic driver creates `spark-warehouse/` in its working folder.
    """
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", script, url], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for script, url in scripts
    ]
    outputs = []
    for client in clients:
        out, err = client.communicate(timeout=180)
        assert client.returncode == 0, err[-3000:]
        outputs.append(out.strip())
    return outputs


def _recorded_pids(root: Path) -> list[int]:
    data = json.loads((cluster_folder(root) / "cluster.json").read_text(encoding="utf-8"))
    return [component["pid"] for component in data["components"]]


def _assert_gone(pids: list[int]) -> None:
    for pid in pids:
        assert process_state(pid, "org.apache.spark") is not ProcessState.running, pid


# -- the real thing -----------------------------------------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.slow
def test_up_status_jobs_down(run_cli: RunCli, project: Path, free_port_numbers: Callable[[int], list[int]]) -> None:
    master_port, webui_port, connect_port = free_port_numbers(3)
    ports = ["--port", str(master_port), "--webui-port", str(webui_port), "--connect-port", str(connect_port)]
    master_url, connect_url = f"spark://127.0.0.1:{master_port}", f"sc://127.0.0.1:{connect_port}"

    up = run_cli("spark", "up", *ports, "--timeout", "120", cwd=project)
    try:
        assert up.exit_code == 0, up.output
        assert master_url in up.stdout and connect_url not in up.stdout
        assert f"LOCKGATE_SPARK_MASTER={master_url} lockgate run" in up.stdout
        assert "Spark worker ready" in up.stderr
        with_connect = run_cli("spark", "up", "--connect", *ports, cwd=project)  # adds the Connect server
        assert with_connect.exit_code == 0, with_connect.output
        assert "Spark Connect server ready" in with_connect.stderr and "Spark master ready" not in with_connect.stderr
        assert connect_url in with_connect.stdout
        pids = _recorded_pids(project)
        assert len(pids) == 3

        status = run_cli("spark", "status", cwd=project)
        assert status.exit_code == 0, status.output
        assert status.stdout.count("running") == 3
        assert f"http://127.0.0.1:{webui_port}" in status.stdout and connect_url in status.stdout

        again = run_cli("spark", "up", "--connect", cwd=project)
        assert again.exit_code == 0, again.output
        assert "already running" in again.stdout and master_url in again.stdout
        assert _recorded_pids(project) == pids

        clients = [(_CLASSIC_JOB, master_url), (_CONNECT_QUERY, connect_url)]
        assert _python(*clients, cwd=project) == ["499500 90", "10"]
    finally:
        down = run_cli("spark", "down", cwd=project)
    assert down.exit_code == 0, down.output
    assert "Stopped" in down.stdout
    _assert_gone(pids)
    assert not _processes_of(project)  # executors and Python workers included

    after = run_cli("spark", "status", cwd=project)
    assert after.exit_code == 3
    assert "No Spark cluster is running" in after.stdout


@pytest.mark.spark
def test_spark_cluster_fixture_serves_spark_connect(spark_cluster: ClusterInfo, tmp_path: Path) -> None:
    assert spark_cluster.master_url.startswith("spark://127.0.0.1:")
    connect_url = spark_cluster.connect_url
    assert connect_url is not None and connect_url.startswith("sc://127.0.0.1:")
    assert _python((_CONNECT_QUERY, connect_url), cwd=tmp_path) == ["10"]


# -- start-up failures: each leaves nothing running ------------------------------------------------------------------


@pytest.mark.spark
def test_up_refuses_a_port_in_use(
    run_cli: RunCli, project: Path, free_port_numbers: Callable[[int], list[int]]
) -> None:
    master_port, webui_port = free_port_numbers(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", master_port))
        taken.listen()
        result = run_cli("spark", "up", "--port", str(master_port), "--webui-port", str(webui_port), cwd=project)
    assert result.exit_code == 3, result.output
    assert f"port {master_port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port PORT" in result.stderr
    assert cluster_status(project).cluster is None


@pytest.mark.spark
def test_up_quotes_the_log_of_a_process_that_exits(
    run_cli: RunCli, project: Path, free_port_numbers: Callable[[int], list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    master_port, webui_port = free_port_numbers(2)
    monkeypatch.setenv("SPARK_DAEMON_MEMORY", "lots")  # the master's JVM refuses to start: -Xmxlots
    try:
        result = run_cli("spark", "up", "--port", str(master_port), "--webui-port", str(webui_port), cwd=project)
    finally:
        stop_cluster(project)  # in case it started after all
    assert result.exit_code == 5, result.output
    assert "the Spark master exited with code 1 while starting" in result.stderr
    assert "Invalid maximum heap size: -Xmxlots" in result.stderr  # the log's last lines
    assert "master.log" in result.stderr
    assert cluster_status(project).cluster is None
    assert not _processes_of(project)


@pytest.mark.spark
def test_up_times_out_and_stops_what_it_started(project: Path, free_port_numbers: Callable[[int], list[int]]) -> None:
    master_port, webui_port = free_port_numbers(2)
    try:
        with pytest.raises(EngineError, match=r"the Spark master was not ready after 0\.2s") as caught:
            start_cluster(project, master_port=master_port, webui_port=webui_port, timeout=0.2)
    finally:
        stop_cluster(project)  # in case it did not fail
    assert "master.log" in str(caught.value.hint)
    assert cluster_status(project).cluster is None
    assert not _processes_of(project)


def _processes_of(root: Path) -> list[int]:
    """Live processes started for the cluster of the project at ``root`` (their classpath names its folder)."""
    if not Path("/proc/self").exists():
        return []
    folder = str(cluster_folder(root)).encode()
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if folder in Path(f"/proc/{name}/cmdline").read_bytes():
                found.append(int(name))
        except OSError:
            continue
    return found


# -- recorded state without Java: stale pids, stopping, refusing ----------------------------------------------------


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A stand-in daemon in its own process group: `sleep 3600`, whose "main class" is its argument `3600`."""
    process = subprocess.Popen(["sleep", "3600"], start_new_session=True)
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _record(root: Path, components: list[tuple[str, int, str]]) -> None:
    """Write a cluster.json as `lockgate spark up` does, with the given (name, pid, main class) components."""
    folder = cluster_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "master_url": "spark://127.0.0.1:7077",
        "webui_url": "http://127.0.0.1:18080",
        "connect_url": None,
        "started_at": "2026-01-01T00:00:00+00:00",
        "options": {"master_port": 7077, "webui_port": 18080, "connect": False, "connect_port": 15002,
                    "cores": 2, "memory": "2g", "timeout": 60.0},
        "components": [
            {"name": name, "pid": pid, "main_class": main_class, "url": "", "log": f"logs/{name}.log"}
            for name, pid, main_class in components
        ],
    }  # fmt: skip
    (folder / "cluster.json").write_text(json.dumps(data), encoding="utf-8")


def _exited_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_status_and_down_when_nothing_was_started(run_cli: RunCli, project: Path) -> None:
    status = run_cli("spark", "status", cwd=project)
    assert status.exit_code == 3
    assert "No Spark cluster is running for this project" in status.stdout
    assert json.loads(run_cli("spark", "status", "-f", "json", cwd=project).stdout) == {
        "running": False,
        "components": [],
    }
    down = run_cli("spark", "down", cwd=project)
    assert down.exit_code == 0
    assert "Nothing to stop" in down.stdout


def test_stale_pids_are_reported_and_never_signalled(run_cli: RunCli, project: Path) -> None:
    _record(project, [("master", _exited_pid(), MASTER_CLASS), ("worker", os.getpid(), "org.apache.spark.Nope")])
    status = run_cli("spark", "status", cwd=project)
    assert status.exit_code == 1, status.output
    assert "stale: process gone" in status.stdout
    assert "stale: pid now runs another program" in status.stdout
    assert "Some of the cluster is down" in status.stdout

    down = run_cli("spark", "down", cwd=project)  # must not signal this test's own process (the reused pid)
    assert down.exit_code == 0
    assert "Already gone: master, worker" in down.stdout
    assert cluster_status(project).cluster is None


def test_down_stops_the_recorded_process_group(
    run_cli: RunCli, project: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    _record(project, [("master", sleeper.pid, "3600")])
    status = run_cli("spark", "status", "--format", "json", cwd=project)
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["components"][0]["state"] == "running"

    down = run_cli("spark", "down", "--timeout", "5", cwd=project)
    assert down.exit_code == 0, down.output
    assert "Stopped the Spark master" in down.stdout
    sleeper.wait(timeout=5)  # ended (`down` reaped it, so Popen cannot see the signal)
    assert process_state(sleeper.pid, "3600") is ProcessState.exited
    assert not (cluster_folder(project) / "cluster.json").exists()


def test_up_refuses_a_partly_running_cluster(run_cli: RunCli, project: Path, sleeper: subprocess.Popen[bytes]) -> None:
    _record(project, [("master", sleeper.pid, "3600"), ("worker", _exited_pid(), "org.apache.spark.Worker")])
    result = run_cli("spark", "up", cwd=project)
    assert result.exit_code == 3, result.output
    assert "only partly running: worker (exited)" in result.stderr
    assert "lockgate spark down" in result.stderr
    assert sleeper.poll() is None


def test_an_unreadable_state_file_is_an_error_naming_the_fix(project: Path) -> None:
    folder = cluster_folder(project)
    folder.mkdir(parents=True)
    (folder / "cluster.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StateError, match=r"cluster\.json is unreadable") as caught:
        stop_cluster(project)
    assert "delete the file" in str(caught.value)


# -- what is missing ------------------------------------------------------------------------------------------------


def test_outside_a_project(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("spark", "status", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no lockgate.yaml" in result.stderr


def test_up_without_pyspark(run_cli: RunCli, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    result = run_cli("spark", "up", cwd=project)
    assert result.exit_code == 5
    assert "PySpark is not installed" in result.stderr
    assert "pip install 'lockgate[spark]'" in result.stderr


def test_up_without_java(run_cli: RunCli, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("needs PySpark installed, to get as far as looking for Java")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run_cli("spark", "up", cwd=project)
    assert result.exit_code == 5
    assert "Java is not installed" in result.stderr
    assert "Java 17" in result.stderr
