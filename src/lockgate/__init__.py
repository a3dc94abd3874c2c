"""lockgate: pipelines and notebooks as code in Git, run on DuckDB locally and Spark at scale."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
