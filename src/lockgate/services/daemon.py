"""Background processes lockgate starts and later stops by pid: spawn detached, check, stop, read their logs.

Rules:
- A daemon runs in a session (and process group) of its own, so it outlives the command that started it, a
  Ctrl-C in that terminal does not reach it, and stopping it also stops the processes it started itself.
- A pid alone proves nothing: a pid file outlives its process, and the system may give the pid to another
  program. A daemon counts as running only while its command line still holds the ``marker`` it was started
  with (for a JVM, its main class), and lockgate only ever signals a daemon that passes that check.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path

LOOPBACK = "127.0.0.1"
_POLL_SECONDS = 0.1


class ProcessState(StrEnum):
    running = "running"
    exited = "exited"
    """No such process any more."""
    replaced = "replaced"
    """The pid now belongs to another program."""


def spawn_daemon(command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` detached from this process, its output (stdout and stderr) written to ``log``.

    Once the daemon is up, pass the handle to :func:`detach`; :func:`stop_daemons` finds the daemon by pid.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def detach(process: subprocess.Popen[bytes]) -> None:
    """Let go of a daemon that is meant to outlive its handle.

    Popen warns ("subprocess N is still running") when a handle whose process runs is garbage-collected, and it
    has no public way to say that is intended: marking the handle finished is that way. The process's exit
    status is then collected by :func:`stop_daemons` (or by init, once this process has ended).
    """
    process.returncode = 0


def process_state(pid: int, marker: str) -> ProcessState:
    """Whether ``pid`` is a live process whose command line holds ``marker`` as one of its arguments."""
    _reap(pid)
    arguments = _command_line(pid)
    if arguments is None:
        return ProcessState.exited
    return ProcessState.running if marker in arguments else ProcessState.replaced


def stop_daemons(pids: Sequence[int], *, timeout: float) -> None:
    """SIGTERM each daemon's process group, wait up to ``timeout`` seconds for the groups to end, then SIGKILL.

    Only pass pids that :func:`process_state` just found running.
    """
    groups = [_group_of(pid) for pid in pids]
    for group in groups:
        _signal_group(group, signal.SIGTERM)
    remaining = _wait_for_groups(groups, timeout)
    for group in remaining:
        _signal_group(group, signal.SIGKILL)
    _wait_for_groups(remaining, 5.0)


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on ``host:port`` now (the check a JVM's bind would pass)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like the JVM: a port whose last connections linger in TIME_WAIT is free to listen on again.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def accepts_connections(port: int, host: str = LOOPBACK) -> bool:
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError:
        return False
    return True


def log_tail(path: Path, *, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ("" when there is none)."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 64 * 1024))
            text = file.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _command_line(pid: int) -> list[str] | None:
    """The process's arguments, or None when it is gone (a zombie counts as gone)."""
    proc = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self").exists():
        try:
            raw = proc.read_bytes()
        except OSError:
            return None
        return raw.decode(errors="replace").split("\0") if raw else None
    # No /proc (macOS): ps shows the command line as one string; split it the same way the marker was joined.
    result = subprocess.run(["ps", "-p", str(pid), "-o", "stat=,command="], capture_output=True, text=True)
    status, _, command = result.stdout.strip().partition(" ")
    if result.returncode != 0 or not command or status.startswith("Z"):
        return None
    return command.split()


def _reap(pid: int) -> None:
    """Collect the exit status of a daemon that was this process's own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _group_of(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return pid  # already gone: its group (started with start_new_session) had its pid


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _wait_for_groups(groups: Sequence[int], timeout: float) -> list[int]:
    """The groups that still have a live process after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = [group for group in groups if _group_is_alive(group)]
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(_POLL_SECONDS)


def _group_is_alive(group: int) -> bool:
    _reap(group)  # the group leader may be our own child (tests start and stop daemons in one process)
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
