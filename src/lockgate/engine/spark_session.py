"""Starting Spark: a classic driver (`local[*]`, a standalone cluster) or a Spark Connect client.

A Spark driver takes seconds to start, so a process starts one per master and keeps it; each run gets a session
of its own on it (`newSession()`: its own temp views and SQL settings, the same executors). A Spark Connect
client is cheap, so each run creates its own server-side session and stops it at the end.

The settings lockgate adds (each may be overridden in `spark.conf`) make Spark behave like the embedded engine
and like Databricks where it matters for data: UTC session time, Parquet timestamps Delta readers understand,
no console progress bars or web UI for local runs, and a quiet log.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lockgate.errors import EngineError
from lockgate.model.project import SparkSettings

logger = logging.getLogger(__name__)

INSTALL_HINT = "install the Spark extra: pip install 'lockgate[spark]' (Java 17 is needed too)"
_LOG4J_CONFIG = Path(__file__).with_name("spark_log4j2.properties")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

_SESSION_CONF = {
    # Spark SQL settings every run's session gets (runtime settings: they work on Spark Connect too).
    "spark.sql.session.timeZone": "UTC",
    # Delta readers (delta-rs, DuckDB) read INT64 microsecond timestamps; Spark's default is the legacy INT96.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


@dataclass(frozen=True, slots=True)
class SparkTarget:
    """Where Spark runs, resolved: the master URL and the configuration to start it with."""

    master: str
    conf: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, settings: SparkSettings) -> SparkTarget:
        """The target of ``settings``; `LOCKGATE_SPARK_MASTER` overrides the master."""
        master = os.environ.get("LOCKGATE_SPARK_MASTER") or settings.master or "local[*]"
        return cls(master, tuple(sorted((key, _conf_text(value)) for key, value in settings.conf.items())))

    @property
    def is_connect(self) -> bool:
        return self.master.startswith("sc://")

    @property
    def is_local(self) -> bool:
        return self.master.startswith("local")


def _conf_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class _Drivers:
    """The classic Spark driver of this process (one SparkContext per JVM), started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: Any = None
        self._target: SparkTarget | None = None
        self._users = 0

    def session(self, target: SparkTarget) -> Any:
        """A new session on the driver for ``target``; the driver is (re)started when needed."""
        with self._lock:
            if self._root is not None and self._target != target:
                if self._users:
                    raise EngineError(
                        f"a Spark driver for {self._target.master if self._target else '?'} is in use in this "
                        f"process; cannot start one for {target.master} at the same time",
                        hint="run runs with different Spark masters or settings in separate processes",
                    )
                self._stop_locked()
            if self._root is None:
                self._root = _start_classic(target)
                self._target = target
            self._users += 1
            session = self._root.newSession()
        for key, value in _SESSION_CONF.items():
            if key not in dict(target.conf):
                session.conf.set(key, value)
        return session

    def release(self) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._root is not None:
            try:
                self._root.stop()
            except Exception:  # the JVM may be gone already at exit; nothing is left to release then
                logger.debug("stopping Spark failed", exc_info=True)
        self._root, self._target = None, None


_drivers = _Drivers()
atexit.register(_drivers.stop)


def open_spark(settings: SparkSettings) -> tuple[Any, SparkTarget]:
    """A new PySpark session for one run, and where it runs.

    Raises:
        EngineError: PySpark or Java is missing, or the cluster or Connect server cannot be reached.
    """
    target = SparkTarget.of(settings)
    try:
        import pyspark  # noqa: F401 - only to say clearly when it is missing
    except ImportError as exc:
        raise EngineError("the Spark engine needs PySpark, which is not installed", hint=INSTALL_HINT) from exc
    if target.is_connect:
        return _start_connect(target), target
    if target.master.startswith("spark://"):
        _check_reachable(target.master, what="Spark master")
    return _drivers.session(target), target


def release_spark(session: Any, target: SparkTarget) -> None:
    """End a run's session: a Connect session is stopped, a classic one leaves the driver running."""
    if target.is_connect:
        try:
            session.stop()
        except Exception:  # the server may be gone; the session dies with it
            logger.debug("stopping the Spark Connect session failed", exc_info=True)
        _connect_mode.leave()
    else:
        _drivers.release()


class _ConnectMode:
    """PySpark's process-wide Connect switch: creating a Connect session sets `SPARK_CONNECT_MODE_ENABLED`, after
    which PySpark builds Connect objects everywhere (even for a classic session). Unset it when the last Connect
    session of this process ends, unless it was set before lockgate's first one."""

    _VARIABLE = "SPARK_CONNECT_MODE_ENABLED"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions = 0
        self._was_set = False

    def enter(self) -> None:
        with self._lock:
            if self._sessions == 0:
                self._was_set = self._VARIABLE in os.environ
            self._sessions += 1

    def leave(self) -> None:
        with self._lock:
            self._sessions = max(0, self._sessions - 1)
            if self._sessions == 0 and not self._was_set:
                os.environ.pop(self._VARIABLE, None)


_connect_mode = _ConnectMode()


def stop_driver() -> None:
    """Stop this process's Spark driver (tests; the driver otherwise stops at exit)."""
    _drivers.stop()


def _start_classic(target: SparkTarget) -> Any:
    from pyspark.sql import SparkSession

    # Python code on executors (UDFs, RDD functions) must run in this interpreter, with lockgate's packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = _classic_defaults(target) | dict(target.conf)
    builder = SparkSession.builder.master(target.master).appName("lockgate")
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise EngineError(
            f"Spark could not start ({target.master}): {_first_line(exc)}",
            hint="check that Java 17 is installed (java -version) or set JAVA_HOME; " + INSTALL_HINT,
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def _classic_defaults(target: SparkTarget) -> dict[str, str]:
    warehouse = Path(tempfile.gettempdir()) / f"lockgate-spark-warehouse-{os.getuid()}"
    conf = {
        "spark.ui.showConsoleProgress": "false",
        # lockgate keeps tables in the environment's lake; Spark's own catalog only holds session views.
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={_LOG4J_CONFIG.as_uri()}",
        **_SESSION_CONF,
    }
    host = urlparse(target.master.split(",")[0]).hostname if target.master.startswith("spark://") else None
    if target.is_local or host in _LOOPBACK:
        # Executors reach the driver on loopback: nothing listens on the machine's network interfaces.
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    if target.is_local:
        conf |= {
            "spark.ui.enabled": "false",
            # Spark's 200 shuffle partitions suit a cluster; one machine's data is better split per core.
            "spark.sql.shuffle.partitions": str(max(2, 2 * _local_cores(target.master))),
        }
    return conf


def _local_cores(master: str) -> int:
    match = re.match(r"local\[(\d+)", master)
    return int(match[1]) if match else os.cpu_count() or 2


def _start_connect(target: SparkTarget) -> Any:
    from pyspark.sql import SparkSession

    _check_reachable(target.master, what="Spark Connect server")
    builder = SparkSession.builder.remote(target.master)
    for key, value in (_SESSION_CONF | dict(target.conf)).items():
        builder = builder.config(key, value)
    _connect_mode.enter()
    try:
        session = builder.create()
        session.sql("SELECT 1").collect()
    except Exception as exc:
        _connect_mode.leave()
        raise EngineError(
            f"cannot use the Spark Connect server at {target.master}: {_first_line(exc)}",
            hint="check the URL, or start a local one with `lockgate spark up --connect`",
        ) from exc
    return session


def _check_reachable(url: str, *, what: str) -> None:
    parsed = urlparse(url.split(",")[0])
    host, port = parsed.hostname or "127.0.0.1", parsed.port or (15002 if url.startswith("sc://") else 7077)
    try:
        with socket.create_connection((host, port), timeout=3):
            pass
    except OSError as exc:
        raise EngineError(
            f"cannot reach the {what} at {url}: {exc.strerror or exc}",
            hint="start a local one with `lockgate spark up` (add --connect for Spark Connect), or fix `spark.master`",
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
