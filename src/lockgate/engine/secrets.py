"""Secrets for `dbutils.secrets.get(scope, key)`: environment variables first, then a file outside Git.

Values are never written to state or logs: every value handed out is registered with the session's
:class:`Redactor`, which masks it in captured output.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockgate.errors import LockgateError, SecretNotFoundError
from lockgate.model.release import parse_secret_reference

DEFAULT_SECRETS_FILE = Path("~/.lockgate/secrets.yaml")
REDACTED = "[REDACTED]"


def secret_env_var(scope: str, key: str) -> str:
    """The environment variable that holds a secret: ``LOCKGATE_SECRET_<SCOPE>_<KEY>``, upper-cased."""
    return "LOCKGATE_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{scope}_{key}").upper()


@dataclass
class Redactor:
    """Masks secret values in text."""

    _values: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, value: str) -> None:
        if len(value) >= 3:
            with self._lock:
                self._values.add(value)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            text = text.replace(value, REDACTED)
        return text

    def redact_value(self, value: Any) -> Any:
        """``value`` with secrets masked in every string in it (a notebook's exit value, say)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self.redact_value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(item) for item in value]
        return value

    def redact_error(self, error: LockgateError) -> LockgateError:
        """``error`` with secrets masked in its message, hint and detail (changed in place, and returned)."""
        error.message = self.redact(error.message)
        error.args = (error.message, *error.args[1:])
        if error.hint:
            error.hint = self.redact(error.hint)
        if isinstance(getattr(error, "detail", None), str):
            error.detail = self.redact(error.detail)  # type: ignore[attr-defined]
        return error


class SecretStore:
    """Looks secrets up in the process environment and a YAML file of ``scope: {key: value}``."""

    def __init__(
        self,
        *,
        secrets_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
    ):
        self.secrets_file = (secrets_file or DEFAULT_SECRETS_FILE).expanduser()
        self._environ = os.environ if environ is None else environ
        self.redactor = redactor or Redactor()
        self._file_cache: dict[str, dict[str, Any]] | None = None

    def get(self, scope: str, key: str) -> str:
        variable = secret_env_var(scope, key)
        value = self._environ.get(variable)
        if value is None:
            value = self._from_file(scope, key)
        if value is None:
            raise SecretNotFoundError(
                f"secret {key!r} in scope {scope!r} not found",
                hint=f"tried: environment variable {variable}; file {self.secrets_file} "
                f"(key {scope}.{key}). Set one of them, e.g. `export {variable}=...`",
            )
        self.redactor.add(value)
        return value

    def has(self, scope: str, key: str) -> bool:
        """Whether the secret exists, without handing its value to anyone (for deploy checks)."""
        return secret_env_var(scope, key) in self._environ or self._from_file(scope, key) is not None

    def describe(self, scope: str, key: str) -> str:
        """Where the secret may be set, for messages."""
        return f"environment variable {secret_env_var(scope, key)} or {self.secrets_file} (key {scope}.{key})"

    def scopes(self) -> list[str]:
        prefixes = {
            name.removeprefix("LOCKGATE_SECRET_").split("_")[0].lower()
            for name in self._environ
            if name.startswith("LOCKGATE_SECRET_")
        }
        return sorted(prefixes | set(self._file()))

    def keys(self, scope: str) -> list[str]:
        return sorted(self._file().get(scope, {}))

    def _from_file(self, scope: str, key: str) -> str | None:
        value = self._file().get(scope, {}).get(key)
        return None if value is None else str(value)

    def _file(self) -> dict[str, dict[str, Any]]:
        if self._file_cache is None:
            self._file_cache = _read_secrets_file(self.secrets_file)
        return self._file_cache


class SecretValues(Mapping[str, Any]):
    """Values in which a ``secret:NAME`` (or ``secret:scope/key``) string reads as the secret's value.

    Secrets are looked up when read, not before: a run that never uses a secret does not need it, and every
    value read is registered with the store's redactor, so it is masked in logs and outputs.
    """

    def __init__(self, values: Mapping[str, Any], store: SecretStore, scope: str) -> None:
        self._values = values
        self._store = store
        self._scope = scope

    def __getitem__(self, key: str) -> Any:
        value = self._values[key]
        reference = parse_secret_reference(value, self._scope) if isinstance(value, str) else None
        return value if reference is None else self._store.get(*reference)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _read_secrets_file(path: Path) -> dict[str, dict[str, Any]]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if not path.is_file():
        return {}
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except (YAMLError, OSError, UnicodeDecodeError) as exc:
        raise SecretNotFoundError(
            f"the secrets file {path} cannot be read: {exc}", hint="it must be YAML of the form `scope: {key: value}`"
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SecretNotFoundError(
            f"the secrets file {path} is not of the form `scope: {{key: value}}`",
            hint="fix the file; see docs/notebooks.md#secrets",
        )
    return {str(scope): {str(k): v for k, v in keys.items()} for scope, keys in data.items()}
