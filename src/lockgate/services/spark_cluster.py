"""A local Spark cluster for one project: a standalone master, one worker and optionally a Spark Connect server.

They run from the installed PySpark (its jars and `bin/spark-class`, Java 17+), bound to 127.0.0.1 only, as
detached processes that outlive the command that started them (:mod:`lockgate.services.daemon`).

What runs, in `<project>/.lockgate/spark/`::

    cluster.json        URLs, ports, and each component's pid, main class and log (written as each one starts)
    logs/               master.log, worker.log, connect.log: what the processes print (rewritten on each start)
    work/               the worker's application folders, with each executor's stdout and stderr
    conf/               an empty SPARK_CONF_DIR, so no spark-defaults.conf or spark-env.sh elsewhere changes them
    connect-warehouse/  the Spark Connect server's `spark.sql.warehouse.dir`

Rules: starting is idempotent (what already runs is reported, a missing Connect server is added); anything
that fails to start is stopped again with everything started in the same call, and the error quotes its log;
a process is only signalled after its command line proved it is still the one started (stale pids are
reported, never killed).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from lockgate.errors import ConflictError, EngineError, StateError, UserInputError
from lockgate.services.daemon import (
    LOOPBACK,
    ProcessState,
    accepts_connections,
    detach,
    is_port_free,
    log_tail,
    process_state,
    spawn_daemon,
    stop_daemons,
)

logger = logging.getLogger(__name__)

INSTALL_HINT = "install the Spark extra: pip install 'lockgate[spark]'"
JAVA_HINT = (
    "install Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`) and put it on PATH or set JAVA_HOME"
)
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
LABELS = {"master": "Spark master", "worker": "Spark worker", "connect": "Spark Connect server"}
_STATE_FILE = "cluster.json"
_MEMORY = re.compile(r"^\d+[kmgt]?$", re.IGNORECASE)
_CONNECT_EXECUTOR_MEMORY = "1g"
_POLL_SECONDS = 0.2
_PORT_OPTIONS = {"master_port": "--port", "webui_port": "--webui-port", "connect_port": "--connect-port"}


@dataclass(frozen=True, slots=True)
class SparkInstall:
    """The Spark that runs the cluster: PySpark's package folder (SPARK_HOME) and the java that runs it."""

    home: Path
    java: str
    java_version: int


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """How to start the cluster. Ports are on 127.0.0.1; the worker's web UI takes a free port."""

    master_port: int = 7077
    webui_port: int = 18080
    connect: bool = False
    connect_port: int = 15002
    cores: int = 2
    memory: str = "2g"
    """What the worker offers executors, in Spark's notation (512m, 2g)."""
    timeout: float = 60.0
    """Seconds for everything to be up."""


@dataclass(frozen=True, slots=True)
class Component:
    """One process of the cluster."""

    name: str
    """master, worker or connect."""
    pid: int
    main_class: str
    """The JVM main class: what the process's command line must still show for the pid to be this component."""
    url: str
    log: str
    """Its log file, relative to the cluster folder."""


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What runs (or was started): URLs, options and components."""

    folder: Path
    """The cluster folder, `<project>/.lockgate/spark`."""
    options: ClusterOptions
    components: tuple[Component, ...]
    started_at: str
    already_running: bool = False
    """True when `start_cluster` found it running and started nothing new."""

    @property
    def master_url(self) -> str:
        return f"spark://{LOOPBACK}:{self.options.master_port}"

    @property
    def webui_url(self) -> str:
        return f"http://{LOOPBACK}:{self.options.webui_port}"

    @property
    def connect_url(self) -> str | None:
        return f"sc://{LOOPBACK}:{self.options.connect_port}" if self.component("connect") else None

    @property
    def log_folder(self) -> Path:
        return self.folder / "logs"

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    component: Component
    state: ProcessState


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """The recorded cluster (None: nothing was started) and whether each of its processes still runs."""

    cluster: ClusterInfo | None
    components: tuple[ComponentStatus, ...] = ()

    @property
    def is_running(self) -> bool:
        return bool(self.components) and all(c.state is ProcessState.running for c in self.components)


@dataclass(frozen=True, slots=True)
class ComponentStarting:
    name: str


@dataclass(frozen=True, slots=True)
class ComponentReady:
    name: str
    url: str
    seconds: float
    """Since the start of `start_cluster`."""


ClusterEvent = ComponentStarting | ComponentReady


def cluster_folder(root: Path) -> Path:
    """Where the cluster of the project at ``root`` keeps its state and logs."""
    return root / ".lockgate" / "spark"


def locate_spark() -> SparkInstall:
    """The installed PySpark (with its jars) and a Java 17+ to run it, or an EngineError saying what to install."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("PySpark is not installed, so lockgate cannot start Spark", hint=INSTALL_HINT)
    home = Path(next(iter(spec.submodule_search_locations)))
    if not (home / "jars").is_dir() or not (home / "bin" / "spark-class").is_file():
        raise EngineError(
            f"the PySpark in {home} has no Spark jars (pyspark-client only talks to a Spark Connect server)",
            hint=INSTALL_HINT,
        )
    java = _java_command()
    version = _java_version(java)
    if version < 17:
        raise EngineError(f"Spark 4 needs Java 17 or newer; {java} is Java {version}", hint=JAVA_HINT)
    return SparkInstall(home=home, java=java, java_version=version)


def start_cluster(
    root: Path,
    *,
    connect: bool = False,
    master_port: int = 7077,
    webui_port: int = 18080,
    connect_port: int = 15002,
    cores: int = 2,
    memory: str = "2g",
    timeout: float = 60.0,
    on_event: Callable[[ClusterEvent], None] | None = None,
) -> ClusterInfo:
    """Start a master and a worker (and a Spark Connect server with ``connect``) for the project at ``root``.

    Returns once the worker is registered with the master and the Connect server accepts connections. When the
    project's cluster already runs, nothing is restarted: its info comes back with ``already_running`` (a Connect
    server is added when asked for and missing; other options are then ignored).

    Raises:
        ConflictError: a port is taken, or the recorded cluster is only partly running.
        EngineError: PySpark or Java is missing, or a process failed or did not get ready within ``timeout``.
    """
    options = ClusterOptions(
        master_port=master_port,
        webui_port=webui_port,
        connect=connect,
        connect_port=connect_port,
        cores=cores,
        memory=memory,
        timeout=timeout,
    )
    _check_options(options)
    folder = cluster_folder(root)
    with _exclusive(folder):
        return _start(folder, options, on_event)


def cluster_status(root: Path) -> ClusterStatus:
    """The recorded cluster of the project at ``root`` and the state of each of its processes."""
    cluster = _read_state(cluster_folder(root))
    if cluster is None:
        return ClusterStatus(None)
    return ClusterStatus(
        cluster, tuple(ComponentStatus(c, process_state(c.pid, c.main_class)) for c in cluster.components)
    )


def stop_cluster(root: Path, *, timeout: float = 10.0) -> ClusterStatus:
    """Stop the project's cluster (Connect server, worker, master) and forget it; a no-op when none is recorded.

    Each process gets SIGTERM (with the processes it started), then SIGKILL after ``timeout`` seconds. Processes
    already gone, or whose pid another program now has, are not signalled. Returns the status found before
    stopping (``cluster`` None: nothing was recorded).
    """
    folder = cluster_folder(root)
    if not folder.is_dir():
        return ClusterStatus(None)
    with _exclusive(folder):
        status = cluster_status(root)
        if status.cluster is None:
            return status
        running = [s.component for s in status.components if s.state is ProcessState.running]
        stop_daemons([c.pid for c in _stop_order(running)], timeout=timeout)
        (folder / _STATE_FILE).unlink(missing_ok=True)
    return status


@contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """One start or stop at a time per project: a second `up` waits for the first, then finds its cluster running.

    The daemons do not inherit the lock: Popen closes every other descriptor in the child.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# -- starting ----------------------------------------------------------------------------------------------------


def _start(folder: Path, options: ClusterOptions, on_event: Callable[[ClusterEvent], None] | None) -> ClusterInfo:
    connect = options.connect
    current = _running_cluster(folder)
    if current is not None and (current.component("connect") or not connect):
        return replace(current, already_running=True)
    install = locate_spark()
    if current is None:
        _check_ports_free(options, [field for field in _PORT_OPTIONS if connect or field != "connect_port"])
        _prepare_folder(folder)
        cluster = ClusterInfo(folder, options, (), _now())
    else:
        options = replace(current.options, connect=True, connect_port=options.connect_port, timeout=options.timeout)
        _check_options(options)
        _check_ports_free(options, ["connect_port"])
        cluster = replace(current, options=options)
    with _Launch(cluster, install, on_event) as launch:
        if current is None:
            launch.start_master()
            launch.start_worker()
        if connect:
            launch.start_connect()
        launch.wait_until_ready()
        return launch.cluster


class _Launch:
    """Starts components one after another and waits for them; on any failure, stops what it started."""

    def __init__(self, cluster: ClusterInfo, install: SparkInstall, on_event: Callable[[ClusterEvent], None] | None):
        self.original = cluster
        self.cluster = cluster
        self.install = install
        self.on_event = on_event or (lambda event: None)
        self.started = time.monotonic()
        self.deadline = self.started + cluster.options.timeout
        self.waiting: dict[str, tuple[subprocess.Popen[bytes], Callable[[], str | None]]] = {}
        """Started, not yet ready: name -> (process, readiness check giving the component's URL once ready)."""
        self.new: list[Component] = []

    def __enter__(self) -> _Launch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None and self.new:  # also on Ctrl-C: leave nothing half-started behind
            stop_daemons([c.pid for c in _stop_order(self.new)], timeout=10.0)
            if self.original.components:  # a Connect server added to a running cluster: the cluster stays
                _write_state(self.original)
            else:
                (self.cluster.folder / _STATE_FILE).unlink(missing_ok=True)

    def start_master(self) -> None:
        options = self.cluster.options
        command = [
            *self._spark_class(MASTER_CLASS),
            *("--host", LOOPBACK, "--port", str(options.master_port), "--webui-port", str(options.webui_port)),
        ]
        self._spawn("master", MASTER_CLASS, command, self.cluster.master_url, self._master_ready)
        self.wait_until_ready()  # the worker and the Connect server need the master

    def start_worker(self) -> None:
        options = self.cluster.options
        command = [
            *self._spark_class(WORKER_CLASS),
            *("--host", LOOPBACK, "--cores", str(options.cores), "--memory", options.memory),
            *("--webui-port", "0", "--work-dir", str(self.cluster.folder / "work"), self.cluster.master_url),
        ]
        self._spawn("worker", WORKER_CLASS, command, "", self._worker_ready)

    def start_connect(self) -> None:
        options = self.cluster.options
        folder = self.cluster.folder
        conf = {
            "spark.connect.grpc.binding.address": LOOPBACK,
            "spark.connect.grpc.binding.port": str(options.connect_port),
            "spark.driver.host": LOOPBACK,
            "spark.driver.bindAddress": LOOPBACK,
            "spark.ui.enabled": "false",
            "spark.sql.warehouse.dir": str(folder / "connect-warehouse"),
            # A share of the worker, so other applications (a classic driver) still get executors.
            "spark.cores.max": str(max(1, options.cores // 2)),
            "spark.executor.memory": _CONNECT_EXECUTOR_MEMORY,
        }
        command = [
            str(self.install.home / "bin" / "spark-submit"),
            *("--class", CONNECT_CLASS, "--name", "Spark Connect server", "--master", self.cluster.master_url),
            *[argument for key, value in conf.items() for argument in ("--conf", f"{key}={value}")],
        ]
        url = f"sc://{LOOPBACK}:{options.connect_port}"
        self._spawn(
            "connect", CONNECT_CLASS, command, url, lambda: url if accepts_connections(options.connect_port) else None
        )

    def wait_until_ready(self) -> None:
        """Wait for every started component to be ready; raise (with its log) if one exits or time runs out."""
        while self.waiting:
            for name, (process, ready) in list(self.waiting.items()):
                if process.poll() is not None:
                    self._fail(name, f"the {LABELS[name]} exited with code {process.returncode} while starting")
                url = ready()
                if url is not None:
                    del self.waiting[name]
                    detach(process)
                    self._mark_ready(name, url)
            if self.waiting and time.monotonic() > self.deadline:
                name = next(iter(self.waiting))
                self._fail(name, f"the {LABELS[name]} was not ready after {self.cluster.options.timeout:g}s")
            time.sleep(_POLL_SECONDS if self.waiting else 0)

    def _spark_class(self, main_class: str) -> list[str]:
        return [str(self.install.home / "bin" / "spark-class"), main_class]

    def _spawn(self, name: str, main_class: str, command: list[str], url: str, ready: Callable[[], str | None]) -> None:
        self.on_event(ComponentStarting(name))
        log = f"logs/{name}.log"
        process = spawn_daemon(command, env=self._environment(), cwd=self.cluster.folder, log=self.cluster.folder / log)
        component = Component(name=name, pid=process.pid, main_class=main_class, url=url, log=log)
        self.new.append(component)
        self.cluster = replace(self.cluster, components=(*self.cluster.components, component))
        _write_state(self.cluster)  # at once: a `down` after a crash or Ctrl-C here still finds the process
        self.waiting[name] = (process, ready)

    def _mark_ready(self, name: str, url: str) -> None:
        components = tuple(replace(c, url=url) if c.name == name else c for c in self.cluster.components)
        self.cluster = replace(self.cluster, components=components)
        _write_state(self.cluster)
        self.on_event(ComponentReady(name, url, time.monotonic() - self.started))

    def _fail(self, name: str, message: str) -> NoReturn:
        log = self.cluster.folder / "logs" / f"{name}.log"
        tail = log_tail(log)
        raise EngineError(
            message,
            hint=f"see {log}" + ("" if tail else " (empty)"),
            detail=f"last lines of {log.name}:\n{tail}" if tail else None,
        )

    def _master_ready(self) -> str | None:
        state = _master_json(self.cluster.options.webui_port)
        return self.cluster.master_url if state is not None and state.get("status") == "ALIVE" else None

    def _worker_ready(self) -> str | None:
        """The worker's web UI address once the master lists it as alive."""
        state = _master_json(self.cluster.options.webui_port) or {}
        for worker in state.get("workers", []):
            if worker.get("state") == "ALIVE":
                return str(worker.get("webuiaddress", ""))
        return None

    def _environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _CLIENT_VARIABLES}
        no_retries = "-Dspark.port.maxRetries=0"  # a taken port fails the start instead of moving to the next one
        env.update(
            SPARK_HOME=str(self.install.home),
            SPARK_CONF_DIR=str(self.cluster.folder / "conf"),
            SPARK_LOCAL_IP=LOOPBACK,
            SPARK_LOCAL_DIRS=str(self.cluster.folder / "tmp"),
            SPARK_CONNECT_MODE="0",  # what Spark's own sbin scripts set for daemons
            SPARK_MASTER_OPTS=f"{no_retries} -Dspark.master.rest.enabled=false",  # no REST submission port (6066)
            SPARK_WORKER_OPTS=no_retries,
            PYSPARK_PYTHON=sys.executable,  # Python UDFs and RDD functions run on executors with this Python
        )
        return env


_CLIENT_VARIABLES = frozenset(
    {"SPARK_REMOTE", "SPARK_LOCAL_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "PYSPARK_SUBMIT_ARGS"}
)
"""Settings for Spark clients that would turn the daemons into clients of something else."""


def _master_json(webui_port: int) -> dict[str, Any] | None:
    """The master's state from its web UI (`/json/`), or None while it does not answer."""
    # No proxy: an HTTP(S)_PROXY setting must not send a request for 127.0.0.1 elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{LOOPBACK}:{webui_port}/json/", timeout=2.0) as response:
            data = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_options(options: ClusterOptions) -> None:
    if not _MEMORY.match(options.memory):
        raise UserInputError(f"worker memory {options.memory!r} is not a size", hint="use Spark's notation: 512m, 2g")
    if options.cores < 1:
        raise UserInputError(f"a worker needs at least 1 core, not {options.cores}")
    ports = [options.master_port, options.webui_port] + ([options.connect_port] if options.connect else [])
    if len(set(ports)) != len(ports):
        raise UserInputError(
            f"the cluster's ports must differ: master {options.master_port}, web UI {options.webui_port}"
            + (f", Connect {options.connect_port}" if options.connect else "")
        )


def _check_ports_free(options: ClusterOptions, fields: list[str]) -> None:
    for field in fields:
        port = getattr(options, field)
        if not is_port_free(port):
            raise ConflictError(
                f"port {port} on {LOOPBACK} is already in use (wanted for the {_PORT_LABELS[field]})",
                hint=f"stop what listens there, or choose another port: lockgate spark up {_PORT_OPTIONS[field]} PORT",
            )


_PORT_LABELS = {"master_port": "Spark master", "webui_port": "master's web UI", "connect_port": "Spark Connect server"}


def _running_cluster(folder: Path) -> ClusterInfo | None:
    """The recorded cluster when all of it runs; None when nothing is recorded or all of it is gone."""
    cluster = _read_state(folder)
    if cluster is None:
        return None
    states = {c.name: process_state(c.pid, c.main_class) for c in cluster.components}
    if states and all(state is ProcessState.running for state in states.values()):
        return cluster
    if any(state is ProcessState.running for state in states.values()):
        down = ", ".join(
            f"{name} ({state.value})" for name, state in states.items() if state is not ProcessState.running
        )
        raise ConflictError(
            f"the project's Spark cluster is only partly running: {down}",
            hint="run `lockgate spark down`, then `lockgate spark up`",
        )
    logger.info("forgetting a Spark cluster whose processes are all gone")
    (folder / _STATE_FILE).unlink(missing_ok=True)
    return None


def _prepare_folder(folder: Path) -> None:
    """A clean cluster folder: the logs, work and temporary files of an earlier cluster go."""
    for name in ("logs", "work", "tmp"):
        shutil.rmtree(folder / name, ignore_errors=True)
    for name in ("logs", "work", "tmp", "conf"):
        (folder / name).mkdir(parents=True, exist_ok=True)


def _stop_order(components: list[Component]) -> list[Component]:
    order = {"connect": 0, "worker": 1, "master": 2}
    return sorted(components, key=lambda c: order.get(c.name, 0))


# -- the state file -----------------------------------------------------------------------------------------------


def _write_state(cluster: ClusterInfo) -> None:
    data = {
        "master_url": cluster.master_url,
        "webui_url": cluster.webui_url,
        "connect_url": cluster.connect_url,
        "started_at": cluster.started_at,
        "options": asdict(cluster.options),
        "components": [asdict(c) for c in cluster.components],
    }
    path = cluster.folder / _STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _read_state(folder: Path) -> ClusterInfo | None:
    path = folder / _STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ClusterInfo(
            folder=folder,
            options=ClusterOptions(**data["options"]),
            components=tuple(Component(**c) for c in data["components"]),
            started_at=str(data["started_at"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateError(
            f"{path} is unreadable: {exc}",
            hint="stop leftover Spark processes yourself (`ps -ef | grep org.apache.spark`), then delete the file",
        ) from exc


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# -- java -----------------------------------------------------------------------------------------------------------


def _java_command() -> str:
    """The java `spark-class` will run: JAVA_HOME's when set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = Path(java_home) / "bin" / "java"
        if not java.is_file():
            raise EngineError(f"JAVA_HOME is {java_home}, but there is no {java}", hint=JAVA_HINT)
        return str(java)
    found = shutil.which("java")
    if found is None:
        raise EngineError(
            "Java is not installed (no `java` on PATH and no JAVA_HOME), so Spark cannot run", hint=JAVA_HINT
        )
    return found


def _java_version(java: str) -> int:
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"cannot run {java} -version: {exc}", hint=JAVA_HINT) from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        raise EngineError(f"cannot tell the Java version from `{java} -version`", hint=JAVA_HINT)
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8
