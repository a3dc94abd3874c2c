"""How a Delta table version looks to DuckDB: a SELECT over its active Parquet files, typed as the table."""

from __future__ import annotations

from lockgate.engine.delta import TableSnapshot


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "long": "BIGINT",
    "integer": "INTEGER",
    "short": "SMALLINT",
    "byte": "TINYINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "binary": "BLOB",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "timestamp_ntz": "TIMESTAMP",
}


def duckdb_type(delta_type: str) -> str:
    """DuckDB's name for a Delta type (nested types beyond arrays fall back to VARCHAR)."""
    if delta_type in _DUCKDB_TYPES:
        return _DUCKDB_TYPES[delta_type]
    if delta_type.startswith("decimal"):
        return delta_type.upper()
    if delta_type.startswith("array<") and delta_type.endswith(">"):
        return duckdb_type(delta_type[6:-1]) + "[]"
    return "VARCHAR"


def snapshot_select(snapshot: TableSnapshot) -> str:
    """A DuckDB SELECT over a table version: its active Parquet files, in the table's column order."""
    columns = ", ".join(quote(column.name) for column in snapshot.columns)
    if not snapshot.files:
        typed = ", ".join(f"CAST(NULL AS {duckdb_type(c.delta_type)}) AS {quote(c.name)}" for c in snapshot.columns)
        return f"SELECT {typed} WHERE false"
    files = "[" + ", ".join("'" + file.replace("'", "''") + "'" for file in snapshot.files) + "]"
    options = ["union_by_name = true"]
    if snapshot.partition_columns:
        types_by_name = {c.name: duckdb_type(c.delta_type) for c in snapshot.columns}
        hive_types = ", ".join(
            f"'{name}': '{types_by_name.get(name, 'VARCHAR')}'" for name in snapshot.partition_columns
        )
        options += ["hive_partitioning = true", f"hive_types = {{{hive_types}}}"]
    else:
        options.append("hive_partitioning = false")
    return f"SELECT {columns} FROM read_parquet({files}, {', '.join(options)})"


# DuckDB types Delta has no counterpart for, and what lockgate writes instead. HUGEINT is what DuckDB gives for
# sum(BIGINT); Spark gives BIGINT, so the tables match across engines (an overflow fails, as in ANSI Spark).
_DELTA_INCOMPATIBLE = {
    "UTINYINT": "SMALLINT",
    "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT",
    "UBIGINT": "DECIMAL(20,0)",
    "UHUGEINT": "DECIMAL(38,0)",
    "HUGEINT": "BIGINT",
}


def delta_typed_projection(columns: list[str], types: list[str]) -> str | None:
    """A projection casting columns of types Delta lacks; None when every column can be written as it is."""
    if not any(t in _DELTA_INCOMPATIBLE for t in types):
        return None
    return ", ".join(
        f"CAST({quote(c)} AS {_DELTA_INCOMPATIBLE[t]}) AS {quote(c)}" if t in _DELTA_INCOMPATIBLE else quote(c)
        for c, t in zip(columns, types, strict=True)
    )
