"""Machine settings: one class, read from flags > `LOCKGATE_*` environment variables > defaults.

Project behaviour lives in `lockgate.yaml` (in Git); these settings are about the machine running lockgate.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of the machine running lockgate."""

    model_config = SettingsConfigDict(env_prefix="LOCKGATE_", extra="ignore", frozen=True)

    state_url: str | None = Field(
        default=None,
        description=("SQLAlchemy URL of the state database. Default: SQLite in the project's `.lockgate/state.db`."),
    )
    secrets_file: Path = Field(
        default=Path("~/.lockgate/secrets.yaml"),
        description=("YAML file of `scope: {key: value}` secrets, kept outside Git."),
    )
    max_parallel: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description=("Upper bound on activities running at once, over each pipeline's own `max_parallel`."),
    )
    debug: bool = Field(default=False, description="Show tracebacks with errors.")

    def state_url_for(self, project_root: Path, configured: str | None = None) -> str:
        """This machine's state URL, else the project's (``configured``), else SQLite in ``.lockgate/``."""
        if self.state_url:
            return self.state_url
        if configured:
            return configured
        return f"sqlite:///{project_root / '.lockgate' / 'state.db'}"
