"""`lockgate query`: one read-only query against an environment's tables."""

from __future__ import annotations

from lockgate.engine import get_engine
from lockgate.engine.base import LakeTarget, QueryResult
from lockgate.model.project import resolve_environment
from lockgate.services.project import Project


def run_query(project: Project, sql: str, *, environment: str | None = None, dialect: str = "spark") -> QueryResult:
    """Rows of ``sql`` over every table of the environment (`schema.table` names, `information_schema`)."""
    env = resolve_environment(project.config, environment, engine="duckdb")
    target = LakeTarget(
        environment=env.name,
        lake_root=(project.root / env.lake).resolve(),
        catalog=env.catalog,
        project_root=project.root,
    )
    with get_engine("duckdb").open_session(target) as session:
        return session.query(sql, dialect=dialect)
