"""The project file, ``lockgate.yaml``: name, default engine, typed variables, environments, connections.

Structure is checked by pydantic; references between parts (an environment setting an undeclared variable, a
default environment that does not exist) are checked by :func:`find_config_problems`, which has the source
positions to point at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lockgate.errors import NotFoundError, Problem, SourceLocation
from lockgate.model.suggest import did_you_mean, format_choices
from lockgate.model.value import ValueSpec, coerce_value

EngineName = Literal["duckdb", "spark"]
DEFAULT_SCHEMA = "default"
"""Schema of an unqualified table name, as in Databricks."""

PROTECTED_BY_DEFAULT = frozenset({"staging", "prod"})
"""Environments that are protected unless their `protected:` says otherwise."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

Locate = Callable[[tuple[str | int, ...]], SourceLocation]


_SPARK_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*|sc://[^\s]+)$")


class SparkSettings(BaseModel):
    """How the Spark engine reaches Spark: in-process `local[*]`, a standalone cluster, or Spark Connect."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    master: str | None = None
    """`local[*]` (the default), `local[N]`, `spark://host:7077` (a standalone cluster) or `sc://host:15002` (a Spark
    Connect server). `LOCKGATE_SPARK_MASTER` overrides it for one machine."""
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Spark configuration for the session, e.g. `spark.executor.memory: 4g`."""

    @field_validator("master")
    @classmethod
    def _known_master(cls, value: str | None) -> str | None:
        if value is not None and not _SPARK_MASTER.match(value):
            raise ValueError(
                f"{value!r} is not a Spark master URL\n"
                "hint: use local[*], local[4], spark://host:7077 or sc://host:15002"
            )
        return value

    def merged(self, override: SparkSettings | None) -> SparkSettings:
        """These settings with ``override``'s master and conf entries on top."""
        if override is None:
            return self
        return SparkSettings(master=override.master or self.master, conf={**self.conf, **override.conf})


class Environment(BaseModel):
    """A named target (dev, test, staging, prod): its own lake, catalog name and variable values."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    lake: str
    """Folder (relative to the project root, or absolute) holding this environment's Delta tables."""
    catalog: str | None = None
    """Catalog name three-part table names use for this environment (default: the environment's name)."""
    protected: bool | None = None
    """Protected environments refuse deploys from a dirty tree and ask before deploying (default: true for
    `staging` and `prod`)."""
    require_approval: bool = False
    """Deploys need an approval of their plan hash (`lockgate approve --env ENV PLAN_HASH`) first."""
    secret_scope: str | None = None
    """Where `secret:NAME` references look secrets up in this environment (default: the environment's name)."""

    def is_protected(self, name: str) -> bool:
        return self.protected if self.protected is not None else name in PROTECTED_BY_DEFAULT

    engine: EngineName | None = None
    """Engine for runs in this environment; defaults to the project's `engine`."""
    spark: SparkSettings | None = None
    """Where the Spark engine runs for this environment; entries override the project's `spark:`."""
    vars: dict[str, Any] = Field(default_factory=dict)
    """Values for the project's declared `vars` in this environment."""


class LocalConnection(BaseModel):
    """A folder on the machine that runs the engine."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: Literal["local"]
    path: str
    """Folder path, relative to the project root or absolute."""


class HttpConnection(BaseModel):
    """An HTTP service `web` activities call."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: Literal["http"]
    base_url: str
    """`https://api.example.com/v1`; may hold `{{ env.vars... }}` expressions."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Sent with every call; values may be `secret:NAME` references (e.g. an `Authorization` header)."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for a response."""


Connection = Annotated[LocalConnection | HttpConnection, Field(discriminator="type")]


class LineageConfig(BaseModel):
    """Where OpenLineage run events go: a JSON-lines file, or an HTTP endpoint (Marquez, DataHub...)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    file: str | None = None
    """A file (relative to the project root) that every event is appended to, one JSON object per line."""
    url: str | None = None
    """Base URL of an OpenLineage HTTP endpoint, e.g. `http://marquez:5000`."""
    endpoint: str = "api/v1/lineage"
    namespace: str | None = None
    """The jobs' namespace (default: the project's name)."""

    @model_validator(mode="after")
    def _one_target(self) -> LineageConfig:
        if (self.file is None) == (self.url is None):
            raise ValueError("lineage needs exactly one of `file:` or `url:`")
        return self


class ProjectConfig(BaseModel):
    """What ``lockgate.yaml`` holds."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """The project's name."""
    engine: EngineName = "duckdb"
    """Default engine: `duckdb` (embedded) or `spark`."""
    spark: SparkSettings = Field(default_factory=SparkSettings)
    """Where the Spark engine runs (default `local[*]`); environments may override it."""
    default_environment: str = "dev"
    """Environment used when a command is given no `--env`."""
    vars: dict[str, ValueSpec] = Field(default_factory=dict)
    """Typed variables that every environment may set; read them as `{{ env.vars.NAME }}`."""
    environments: dict[str, Environment]
    """The environments this project deploys to and runs in."""
    connections: dict[str, Connection] = Field(default_factory=dict)
    """Named places data lives."""
    lineage: LineageConfig | None = None
    """Emit OpenLineage events (inputs and outputs per activity) when set."""
    state_url: str | None = None
    """SQLAlchemy URL of the state database shared by everyone who deploys (e.g.
    `postgresql+psycopg://lockgate@db/lockgate`); `LOCKGATE_STATE_URL` and `--state-url` override it. Default:
    SQLite in `.lockgate/state.db`. Keep passwords out: use `PGPASSWORD` or `~/.pgpass`."""

    @field_validator("environments")
    @classmethod
    def _environments_not_empty(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        if not value:
            raise ValueError(
                "at least one environment is needed\nhint: add `environments: {dev: {lake: .lockgate/lake/dev}}`"
            )
        return value


@dataclass(frozen=True, slots=True)
class EnvironmentContext:
    """An environment resolved for one command: values typed and defaulted, names fixed."""

    name: str
    lake: str
    catalog: str
    protected: bool
    engine: str
    vars: dict[str, Any] = field(default_factory=dict)
    require_approval: bool = False
    secret_scope: str = ""
    spark: SparkSettings = field(default_factory=SparkSettings)

    def as_expression_context(self) -> dict[str, Any]:
        return {"name": self.name, "catalog": self.catalog, "protected": self.protected, "vars": dict(self.vars)}


def find_config_problems(config: ProjectConfig, locate: Locate) -> list[Problem]:
    """Cross-reference checks of a structurally valid config, each problem at its place."""
    problems: list[Problem] = []
    if config.default_environment not in config.environments:
        problems.append(
            unknown_name_problem(
                "environment", config.default_environment, config.environments, locate(("default_environment",))
            )
        )
    for env_name, env in config.environments.items():
        problems += _environment_problems(config, env_name, env, locate)
    for var_name, spec in config.vars.items():
        if spec.default is not None:
            try:
                coerce_value(spec.type, spec.default)
            except ValueError as exc:
                problems.append(
                    Problem(f"default of variable {var_name!r}: {exc}", locate(("vars", var_name, "default")))
                )
    return problems


def _environment_problems(config: ProjectConfig, env_name: str, env: Environment, locate: Locate) -> list[Problem]:
    problems: list[Problem] = []
    if not _NAME.match(env_name):
        problems.append(
            Problem(
                f"environment name {env_name!r} must start with a letter and use only letters, digits, '_' and '-'",
                locate(("environments", env_name)),
            )
        )
    for var_name, raw in env.vars.items():
        path: tuple[str | int, ...] = ("environments", env_name, "vars", var_name)
        spec = config.vars.get(var_name)
        if spec is None:
            problems.append(
                unknown_name_problem(
                    "variable", var_name, config.vars, locate(path), fix="declare it under the top-level `vars:`"
                )
            )
            continue
        try:
            coerce_value(spec.type, raw)
        except ValueError as exc:
            problems.append(Problem(f"variable {var_name!r}: {exc}", locate(path)))
    for var_name, spec in config.vars.items():
        if spec.is_required and env.vars.get(var_name) is None:
            problems.append(
                Problem(
                    f"variable {var_name!r} has no value in environment {env_name!r}",
                    locate(("environments", env_name)),
                    f"set `vars: {{{var_name}: ...}}` here, or give the variable a `default`",
                )
            )
    return problems


def resolve_environment(config: ProjectConfig, name: str | None, *, engine: str | None = None) -> EnvironmentContext:
    """The environment ``name`` (default: the project's default) with typed variable values.

    Raises:
        NotFoundError: the environment does not exist, or a required variable has no value there.
    """
    env_name = name or config.default_environment
    env = config.environments.get(env_name)
    if env is None:
        problem = unknown_name_problem("environment", env_name, config.environments, None)
        raise NotFoundError(problem.message, hint=problem.hint)
    values: dict[str, Any] = {}
    for var_name, spec in config.vars.items():
        raw = env.vars.get(var_name, spec.default)
        if raw is None:
            if spec.is_required:
                raise NotFoundError(
                    f"variable {var_name!r} has no value in environment {env_name!r}",
                    hint=f"set `environments.{env_name}.vars.{var_name}` or a `default` in lockgate.yaml",
                )
            values[var_name] = None
            continue
        values[var_name] = coerce_value(spec.type, raw)
    return EnvironmentContext(
        name=env_name,
        lake=env.lake,
        catalog=env.catalog or env_name,
        protected=env.is_protected(env_name),
        engine=engine or env.engine or config.engine,
        vars=values,
        require_approval=env.require_approval,
        secret_scope=env.secret_scope or env_name,
        spark=config.spark.merged(env.spark),
    )


def unknown_name_problem(
    kind: str, name: str, known: Any, location: SourceLocation | None, *, fix: str | None = None
) -> Problem:
    """A problem for an unknown name, with did-you-mean and the known names."""
    suggestion = did_you_mean(name, known)
    hint_parts = [f"known: {format_choices(known)}" if known else f"none is defined; {fix or 'define one'}"]
    if fix and known:
        hint_parts.append(fix)
    hint = "; ".join(hint_parts)
    return Problem(f"unknown {kind} {name!r}", location, f"did you mean {suggestion!r}? {hint}" if suggestion else hint)
