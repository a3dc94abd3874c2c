"""The CLI starts without loading the engine, and the package exposes what it promises."""

from __future__ import annotations

import subprocess
import sys

import lockgate

HEAVY = ("duckdb", "sqlglot", "pyarrow", "sqlalchemy", "deltalake", "sqlframe", "pandas", "pyspark")


def test_cli_import_loads_no_heavy_library() -> None:
    code = f"import sys, lockgate.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert output.strip() == "[]"


def test_public_api_is_exported() -> None:
    for name in lockgate.__all__:
        assert hasattr(lockgate, name), name
