"""How long `lockgate --help` takes, against a bare `python -c pass`, median of REPEATS fresh processes.

The aim is under 0.5 s: the CLI must not import DuckDB, sqlglot, pyarrow or the state store to print help.

    python bench/cli_startup.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def median_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    bare = median_seconds([sys.executable, "-c", "pass"], args.repeats)
    help_ = median_seconds([sys.executable, "-m", "lockgate", "--help"], args.repeats)
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from lockgate.cli import app; "
            "print(sorted(m for m in ('duckdb', 'sqlglot', 'pyarrow', 'sqlalchemy', 'deltalake', 'sqlframe') "
            "if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"python -c pass   : {bare:.3f} s")
    print(f"lockgate --help  : {help_:.3f} s (aim < 0.5 s)")
    print(f"ratio help / bare python: {help_ / bare:.2f}x")
    print(f"heavy modules imported by the CLI at start-up: {heavy}")


if __name__ == "__main__":
    main()
