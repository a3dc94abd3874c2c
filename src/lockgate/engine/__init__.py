"""How work runs: the `Engine` interface, the embedded DuckDB engine and the Spark engine.

Imports `lockgate.model`, never `lockgate.state`. Heavy libraries (duckdb, sqlframe, deltalake, pyarrow,
pyspark) are imported only by the modules that own them, and those modules are imported on first use, so
`lockgate --help` stays fast.
"""

from __future__ import annotations

import importlib

from lockgate.engine.base import Engine, EngineSession, LakeTarget
from lockgate.errors import NotFoundError
from lockgate.model.project import SparkSettings
from lockgate.model.suggest import did_you_mean, format_choices

_ENGINES: dict[str, tuple[str, str]] = {
    "duckdb": ("lockgate.engine.duckdb", "DuckDBEngine"),
    "spark": ("lockgate.engine.spark", "SparkEngine"),
}

__all__ = ["Engine", "EngineSession", "LakeTarget", "get_engine"]


def get_engine(name: str, *, spark: SparkSettings | None = None) -> Engine:
    """The engine called ``name``; ``spark`` says where the Spark engine runs.

    Raises:
        NotFoundError: no engine has that name.
    """
    if name not in _ENGINES:
        suggestion = did_you_mean(name, _ENGINES)
        raise NotFoundError(
            f"unknown engine {name!r}",
            hint=(f"did you mean {suggestion!r}? " if suggestion else "")
            + f"engines: {format_choices(sorted(_ENGINES))}",
        )
    module_name, class_name = _ENGINES[name]
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class(spark) if name == "spark" else engine_class()
    return engine
