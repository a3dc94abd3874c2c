"""Shared fixtures: the CLI through its real error boundary, projects to run it on, a throwaway PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from lockgate.cli import main
from lockgate.cli.options import CliState

if TYPE_CHECKING:
    from lockgate.services.spark_cluster import ClusterInfo

FIXTURES = Path(__file__).parent / "fixtures"
_MARKERS_THAT_ARE_SLOW = {"slow", "spark", "postgres", "browser"}


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `lockgate ARGS...` in ``cwd`` through `lockgate.cli.main`, returning exit code and output."""

    def invoke(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["lockgate", *args])
        monkeypatch.setenv("COLUMNS", "200")
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            CliState.current = None
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lockgate.services.scaffold import init_project

    root = tmp_path_factory.mktemp("template") / "demo"
    init_project(root, rows=300)
    return root


@pytest.fixture
def demo_project(_demo_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the `lockgate init` project (small data set), not yet run."""
    target = tmp_path / "demo"
    shutil.copytree(_demo_template, target)
    return target


@pytest.fixture
def fixture_project(tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of `tests/fixtures/projects/<name>`."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / "projects" / name, target)
        return target

    return copy


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/fixtures/golden files.")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with `tests/fixtures/golden/<name>` (rewrite it with `--update-golden`)."""

    def check(name: str, text: str) -> None:
        path = FIXTURES / "golden" / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.is_file(), f"no golden file {path}: run pytest --update-golden once and review it"
        assert text == path.read_text(encoding="utf-8"), f"output differs from {path} (--update-golden rewrites it)"

    return check


def git_commit_all(root: Path, message: str) -> str:
    """Commit every file under ``root`` (a Git repository is created if missing); returns the commit id."""
    from dulwich import porcelain

    if not (root / ".git").exists():
        porcelain.init(str(root))
    porcelain.add(
        str(root),
        paths=[str(p) for p in root.rglob("*") if p.is_file() and ".lockgate" not in p.parts and ".git" not in p.parts],
    )
    sha = porcelain.commit(
        str(root), message=message.encode(), author=b"t <t@example.com>", committer=b"t <t@example.com>"
    )
    return sha.decode()


@pytest.fixture
def git_commit() -> Callable[[Path, str], str]:
    return git_commit_all


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "project" / ".lockgate" / "state.db"


@pytest.fixture
def sqlite_url(sqlite_path: Path) -> str:
    return f"sqlite:///{sqlite_path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest) -> str:
    """A URL for a new, empty state database: a SQLite file, or a fresh database on the test PostgreSQL server."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A project made of the given files (path -> text); `lockgate.yaml` gets a default if missing."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        files = {"lockgate.yaml": DEFAULT_PROJECT_YAML, **files}
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return write


DEFAULT_PROJECT_YAML = """\
name: sample
environments:
  dev: {lake: .lockgate/lake/dev}
  prod: {lake: .lockgate/lake/prod, protected: true}
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("postgres"):
            item.add_marker("postgres")  # so `-m "not postgres"` never starts a server
        if "spark_cluster" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("spark"):
            item.add_marker("spark")  # so `-m "not spark"` never starts a cluster
        if not any(item.get_closest_marker(name) for name in _MARKERS_THAT_ARE_SLOW):
            item.add_marker("fast")


@pytest.fixture(autouse=True)
def _isolated_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's own secrets file or state settings."""
    monkeypatch.setenv("LOCKGATE_SECRETS_FILE", str(tmp_path / "no-secrets.yaml"))
    monkeypatch.delenv("LOCKGATE_STATE_URL", raising=False)
    yield


# -- PostgreSQL: one throwaway server per test session, one fresh database per test ---------------------------

_PG_START_TIMEOUT = 30  # seconds, for initdb and for the server to accept connections
_PG_ADMIN_DB = "postgres"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _unavailable(what: str, reason: str) -> NoReturn:
    """Skip tests that need ``what`` locally; in CI (``CI=true``) fail them, so they can never be skipped silently."""
    if _in_ci():
        pytest.fail(f"CI=true, so the {what} tests must run, but they cannot: {reason}", pytrace=False)
    pytest.skip(f"{what} tests skipped: {reason}")


def _postgres_unavailable(reason: str) -> NoReturn:
    _unavailable("PostgreSQL", reason)


def _postgres_bin_dir() -> Path | None:
    """The newest Debian-style ``/usr/lib/postgresql/<major>/bin``, else the directory of ``initdb`` on PATH."""
    majors = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    numbered = [path for path in majors if path.parent.name.isdigit()]
    if numbered:
        return max(numbered, key=lambda path: int(path.parent.name))
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different ports that are free on 127.0.0.1 now (all held at once while choosing them)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


@pytest.fixture
def free_port_numbers() -> Callable[[int], list[int]]:
    """``free_port_numbers(3)``: three different ports free on 127.0.0.1."""
    return free_ports


@dataclass(frozen=True)
class _PgCluster:
    bin_dir: Path
    root: Path
    as_user: list[str]
    """Prefix that runs a command as the unprivileged owner of the data directory (empty unless we are root)."""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def run(self, tool: str, *args: str, timeout: float = _PG_START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, str(self.bin_dir / tool), *args],
            cwd=self.root,  # the unprivileged user may not be able to enter our working directory
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def server_log(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return "(no server log)"


def _make_pg_cluster(bin_dir: Path) -> _PgCluster:
    as_root = os.geteuid() == 0
    # As root, in /tmp: the `postgres` user must be able to reach the directory (a root TMPDIR may be private).
    root = Path(tempfile.mkdtemp(prefix="lockgate-pg-", dir="/tmp" if as_root else None))
    as_user: list[str] = []
    if as_root:  # PostgreSQL refuses to run as root: hand the directory to the `postgres` user
        runuser = shutil.which("runuser")
        try:
            shutil.chown(root, user="postgres", group=None)
        except LookupError:
            shutil.rmtree(root, ignore_errors=True)
            _postgres_unavailable("running as root and there is no `postgres` user to run the server as")
        if runuser is None:
            shutil.rmtree(root, ignore_errors=True)
            _postgres_unavailable("running as root and `runuser` is missing")
        as_user = [str(runuser), "-u", "postgres", "--"]
    return _PgCluster(bin_dir, root, as_user)


def _start_pg(cluster: _PgCluster) -> int:
    """Start the server on a free port on 127.0.0.1 only; return the port once it accepts connections."""
    for _attempt in range(3):  # another process may take the free port before the server binds it
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={cluster.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # throwaway data: no durability
        )
        started = cluster.run(
            "pg_ctl", "start", "-D", str(cluster.data), "-l", str(cluster.log), "-w", "-t", str(_PG_START_TIMEOUT),
            "-o", options,
        )  # fmt: skip
        if started.returncode == 0 and _wait_until_ready(port):
            return port
        cluster.run("pg_ctl", "stop", "-D", str(cluster.data), "-m", "immediate", "-w")
        if "could not bind" not in cluster.server_log():
            break
    pytest.fail(f"the test PostgreSQL server did not start:\n{started.stderr}\n{cluster.server_log()}", pytrace=False)


def _wait_until_ready(port: int) -> bool:
    import psycopg

    deadline = time.monotonic() + _PG_START_TIMEOUT
    while True:
        try:
            psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname=_PG_ADMIN_DB, connect_timeout=5
            ).close()
            return True
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for this test session, from the installed binaries, on 127.0.0.1 and a free port.

    Yields its base SQLAlchemy URL, ``postgresql+psycopg://postgres@127.0.0.1:PORT/`` (trust authentication).
    Skipped when PostgreSQL or psycopg is missing, except under ``CI=true``, where that fails instead.
    """
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        _postgres_unavailable("no initdb in /usr/lib/postgresql/*/bin or on PATH (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _postgres_unavailable("psycopg is not installed (pip install -e '.[dev,postgres]')")
    cluster = _make_pg_cluster(bin_dir)
    try:
        initdb = cluster.run(
            "initdb", "-D", str(cluster.data), "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--locale=C",
            "--no-sync",
        )  # fmt: skip
        if initdb.returncode != 0:
            pytest.fail(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}", pytrace=False)
        port = _start_pg(cluster)
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/"
        finally:
            if cluster.run("pg_ctl", "stop", "-D", str(cluster.data), "-m", "fast", "-w").returncode != 0:
                cluster.run("pg_ctl", "stop", "-D", str(cluster.data), "-m", "immediate", "-w")
    finally:
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty database on the session's PostgreSQL server; dropped afterwards."""
    import psycopg
    import sqlalchemy as sa

    server = sa.make_url(postgres_server)
    name = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(
        host=server.host, port=server.port, user=server.username, dbname=_PG_ADMIN_DB, autocommit=True
    ) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # FORCE: connections a test left open


# -- Spark: one local standalone cluster (master, worker, Spark Connect server) per test session -------------------

_SPARK_START_TIMEOUT = 180  # seconds; a busy CI machine starts three JVMs at once


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterInfo]:
    """A Spark standalone master with one worker (2 cores, 2g) and a Spark Connect server for this test session.

    Started from the installed PySpark on free ports of 127.0.0.1 (so parallel pytest workers each get their own),
    and stopped at the end. Use ``spark_cluster.master_url`` (``spark://127.0.0.1:PORT``) or
    ``spark_cluster.connect_url`` (``sc://127.0.0.1:PORT``). The Connect server holds 1 core and 1g of the worker;
    a classic driver gets the rest (ask for ``spark.cores.max=1``, ``spark.executor.memory`` up to 1g). Tests using
    it are marked `spark`. Skipped when PySpark or Java is missing, except under ``CI=true``, where that fails.
    """
    from lockgate.errors import ConflictError, EngineError
    from lockgate.services.spark_cluster import locate_spark, start_cluster, stop_cluster

    try:
        locate_spark()
    except EngineError as exc:
        _unavailable("Spark", f"{exc.message} ({exc.hint})")
    root = tmp_path_factory.mktemp("spark-cluster")
    for attempt in range(3):  # another process may take a free port before the cluster binds it
        master_port, webui_port, connect_port = free_ports(3)
        try:
            cluster = start_cluster(
                root,
                connect=True,
                master_port=master_port,
                webui_port=webui_port,
                connect_port=connect_port,
                timeout=_SPARK_START_TIMEOUT,
            )
            break
        except ConflictError:
            if attempt == 2:
                raise
    try:
        yield cluster
    finally:
        stop_cluster(root)
