"""Names to places: `[catalog.]schema.table` to a lake folder, notebook file paths to local paths.

Identifiers are case-insensitive as in Databricks, so names are lower-cased; an unqualified table name is in
the current schema (``default`` unless a `USE` changed it); a catalog must be the environment's own catalog
name or one of the names Databricks code commonly uses for "this workspace" (`spark_catalog`, `hive_metastore`,
`main`). Paths in `dbfs:/...` and `/dbfs/...` form resolve below the project root.
"""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp
from sqlglot.errors import ParseError

from lockgate.engine import delta
from lockgate.engine.base import LakeTarget
from lockgate.engine.sql import TableName
from lockgate.errors import NotFoundError, SqlError, TableNotFoundError
from lockgate.model.project import DEFAULT_SCHEMA
from lockgate.model.suggest import did_you_mean, format_choices

SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog"})


class TableResolver:
    """Resolves table names and file paths for one environment."""

    def __init__(self, target: LakeTarget):
        self.target = target
        self.current_schema = DEFAULT_SCHEMA

    def parse(self, text: str) -> TableName:
        try:
            table = exp.to_table(text, dialect="spark")
        except ParseError as exc:
            raise SqlError(f"{text!r} is not a table name", hint="use schema.table, e.g. silver.patients") from exc
        return TableName(catalog=table.catalog or None, schema=table.db or None, name=table.name)

    def resolve(self, name: TableName) -> TableName:
        """The name with the catalog checked and removed, and the schema filled in."""
        if name.catalog is not None:
            catalog = name.catalog.lower()
            known = (self.target.catalog.lower(), *self.target.catalog_aliases)
            if catalog not in known:
                suggestion = did_you_mean(catalog, known)
                raise NotFoundError(
                    f"unknown catalog {name.catalog!r} in table name {name}",
                    hint=(f"did you mean {suggestion!r}? " if suggestion else "")
                    + f"environment {self.target.environment!r} uses catalog {self.target.catalog!r} "
                    f"(also accepted: {format_choices(self.target.catalog_aliases)})",
                )
        schema = (name.schema or self.current_schema).lower()
        return TableName(catalog=None, schema=schema, name=name.name.lower())

    def table_path(self, schema: str, name: str) -> Path:
        return self.target.lake_root / schema / name

    def existing_tables(self) -> list[str]:
        return [f"{schema}.{name}" for schema, name, _ in delta.discover_tables(self.target.lake_root)]

    def missing_table_hint(self, table: TableName) -> str:
        existing = self.existing_tables()
        # Within the schema compare table names only: a shared `silver.` prefix does not make two names close.
        same_schema = {n.partition(".")[2]: n for n in existing if n.partition(".")[0] == table.schema}
        others = [n for n in existing if n not in same_schema.values()]
        close = did_you_mean(table.name, same_schema)
        suggestion = same_schema[close] if close else did_you_mean(f"{table.schema}.{table.name}", others)
        if suggestion:
            return f"did you mean {suggestion!r}?"
        if existing:
            return f"tables in this environment: {format_choices(existing)}"
        return "this environment has no tables yet; run the pipeline that creates them"

    def resolve_file_path(self, path: str) -> Path:
        """A notebook's file path on this machine: `dbfs:/x`, `/dbfs/x` and relative paths below the project."""
        text = str(path)
        for prefix in ("dbfs:/", "/dbfs/"):
            if text.startswith(prefix):
                return self.target.project_root / text[len(prefix) :].lstrip("/")
        if text.startswith("file:"):
            return Path(text.removeprefix("file:").replace("///", "/", 1))
        candidate = Path(text)
        return candidate if candidate.is_absolute() else self.target.project_root / candidate

    @staticmethod
    def is_system(name: TableName) -> bool:
        return (name.schema or "").lower() in SYSTEM_SCHEMAS


def unknown_table_error(table: TableName, resolver: TableResolver) -> TableNotFoundError:
    return TableNotFoundError(
        f"table {table.schema}.{table.name} does not exist in environment {resolver.target.environment!r}",
        hint=resolver.missing_table_hint(table),
    )
