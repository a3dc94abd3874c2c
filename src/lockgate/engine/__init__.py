"""How work runs: the `Engine` interface, the embedded DuckDB engine and (later) Spark.

Imports `lockgate.model`, never `lockgate.state`. Heavy libraries (duckdb, sqlframe, deltalake, pyarrow,
pyspark) are imported only by the modules that own them, and those modules are imported on first use, so
`lockgate --help` stays fast.
"""

from __future__ import annotations

import importlib

from lockgate.engine.base import Engine, EngineSession, LakeTarget
from lockgate.errors import EngineError, NotFoundError
from lockgate.model.suggest import did_you_mean, format_choices

_ENGINES: dict[str, tuple[str, str]] = {
    "duckdb": ("lockgate.engine.duckdb", "DuckDBEngine"),
}
_PLANNED = {"spark": "the Spark engine is not available in this version of lockgate yet"}

__all__ = ["Engine", "EngineSession", "LakeTarget", "get_engine"]


def get_engine(name: str) -> Engine:
    """The engine called ``name``.

    Raises:
        NotFoundError: no engine has that name.
        EngineError: the engine exists but cannot be used here.
    """
    if name in _PLANNED:
        raise EngineError(_PLANNED[name], hint="use --engine duckdb")
    if name not in _ENGINES:
        suggestion = did_you_mean(name, _ENGINES)
        raise NotFoundError(
            f"unknown engine {name!r}",
            hint=(f"did you mean {suggestion!r}? " if suggestion else "")
            + f"engines: {format_choices(sorted(_ENGINES))}",
        )
    module_name, class_name = _ENGINES[name]
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class()
    return engine
