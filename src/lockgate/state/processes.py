"""Processes as the state database records them (``host:pid:start``), and whether one is still alive.

Runs record the process that runs them, and a deploy lock's holder the process that holds it, so that what a
dead process left behind (a run still ``running``, a lock holder's description) can be told from live work.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def current_process() -> str:
    """This process as ``host:pid:start``; the start time tells a reused pid from the original process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}"


def is_dead_process(process: str | None) -> bool:
    """Whether the process a run recorded is gone. Unknown owners and other machines' processes count as alive."""
    if not process:
        return False
    host, _, rest = process.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if start:
        return _start_time(pid) != start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces, so count fields after its closing parenthesis.
    return stat.rsplit(")", 1)[1].split()[19]
