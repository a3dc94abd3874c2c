"""`import pyspark...` inside notebooks on the DuckDB engine, with or without PySpark installed.

While a run is active, a finder at the front of `sys.meta_path` answers every `pyspark` import with modules
backed by sqlframe on the run's DuckDB session. Those modules (and sqlframe itself) are built on the first
`pyspark` import, so SQL-only runs never load them. Imports of what DuckDB cannot do (MLlib, RDDs,
streaming) fail with an error that says to use the Spark engine.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_FEATURES_NEEDING_SPARK = {
    "pyspark.ml": "Spark MLlib",
    "pyspark.mllib": "Spark MLlib",
    "pyspark.streaming": "Spark Streaming",
    "pyspark.rdd": "RDDs",
    "pyspark.pandas": "the pandas API on Spark",
    "pyspark.sql.streaming": "Structured Streaming",
}


def _is_pyspark(name: str) -> bool:
    return name == "pyspark" or name.startswith("pyspark.")


class _PysparkAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, session: Callable[[], Any]):
        self._session = session
        self._modules: dict[str, types.ModuleType] | None = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not _is_pyspark(fullname):
            return None
        if fullname in self._aliases():
            return importlib.util.spec_from_loader(fullname, self)
        feature = next(
            (
                label
                for prefix, label in _FEATURES_NEEDING_SPARK.items()
                if fullname == prefix or fullname.startswith(prefix + ".")
            ),
            f"module {fullname}",
        )
        raise ImportError(
            f"{feature} needs the Spark engine; the DuckDB engine provides pyspark.sql only. "
            "Run with --engine spark (pip install 'lockgate[spark]')."
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._aliases()[spec.name]

    def exec_module(self, module: types.ModuleType) -> None:
        """The alias modules are complete when built."""

    def _aliases(self) -> dict[str, types.ModuleType]:
        if self._modules is None:
            # sqlframe is heavy: it loads on a notebook's first `import pyspark`, not when the run starts.
            from lockgate.engine.duckdb_spark import pyspark_modules

            self._modules = pyspark_modules(self._session)
        return self._modules


@contextmanager
def pyspark_aliases(session: Callable[[], Any]) -> Iterator[None]:
    """While active, `import pyspark...` resolves to the DuckDB-backed API; ``session`` gives `spark`."""
    saved = {name: module for name, module in sys.modules.items() if _is_pyspark(name)}
    for name in saved:
        del sys.modules[name]
    finder = _PysparkAliasFinder(session)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if _is_pyspark(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
