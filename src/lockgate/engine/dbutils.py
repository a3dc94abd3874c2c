"""`dbutils` for notebooks: widgets, notebook.run/exit, fs and secrets, with Databricks' names and behaviour.

Widgets only hold strings, as in Databricks. A value passed by the pipeline (or `-p`) wins over the widget's
default; `get` of a widget that was neither defined nor passed fails with the names that exist.
"""

from __future__ import annotations

import builtins
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockgate.engine.secrets import SecretStore
from lockgate.errors import UserCodeError
from lockgate.model.suggest import did_you_mean, format_choices


class NotebookExit(Exception):
    """Raised by `dbutils.notebook.exit(value)` to end the notebook with an output."""

    def __init__(self, value: str):
        super().__init__(value)
        self.value = value


class WidgetError(UserCodeError):
    pass


class Widgets:
    """`dbutils.widgets`."""

    def __init__(self, passed: dict[str, str]):
        self._passed = dict(passed)
        self._defined: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._defined[name] = str(defaultValue)

    def dropdown(self, name: str, defaultValue: str, choices: Iterable[str], label: str | None = None) -> None:
        options = [str(choice) for choice in choices]
        if str(defaultValue) not in options:
            raise WidgetError(
                f"dropdown widget {name!r}: default {defaultValue!r} is not one of its choices",
                hint=f"choices: {format_choices(options)}",
            )
        value = self._passed.get(name)
        if value is not None and value not in options:
            raise WidgetError(
                f"widget {name!r} was given {value!r}, which is not one of its choices",
                hint=f"choices: {format_choices(options)}",
            )
        self._defined[name] = str(defaultValue)

    def combobox(self, name: str, defaultValue: str, choices: Iterable[str], label: str | None = None) -> None:
        self._defined[name] = str(defaultValue)

    def multiselect(self, name: str, defaultValue: str, choices: Iterable[str], label: str | None = None) -> None:
        options = [str(choice) for choice in choices]
        for part in str(self._passed.get(name, defaultValue)).split(","):
            if part and part not in options:
                raise WidgetError(
                    f"multiselect widget {name!r}: {part!r} is not one of its choices",
                    hint=f"choices: {format_choices(options)}",
                )
        self._defined[name] = str(defaultValue)

    def get(self, name: str) -> str:
        if name in self._passed:
            return self._passed[name]
        if name in self._defined:
            return self._defined[name]
        known = sorted(set(self._passed) | set(self._defined))
        suggestion = did_you_mean(name, known)
        raise WidgetError(
            f"no input widget named {name!r} is defined",
            hint=(f"did you mean {suggestion!r}? " if suggestion else "")
            + (f"widgets: {format_choices(known)}; " if known else "")
            + f"define it with dbutils.widgets.text({name!r}, 'default') or pass it with -p {name}=VALUE",
        )

    def getArgument(self, name: str, optional: str | None = None) -> str:
        try:
            return self.get(name)
        except WidgetError:
            if optional is not None:
                return optional
            raise

    def getAll(self) -> dict[str, str]:
        return {**self._defined, **self._passed}

    def remove(self, name: str) -> None:
        self._defined.pop(name, None)

    def removeAll(self) -> None:
        self._defined.clear()

    def pass_values(self, values: dict[str, str]) -> None:
        """Values given from outside (`%run ./x $name=value`), which win over widget defaults."""
        self._passed.update(values)

    def values(self) -> dict[str, str]:
        """Every value a SQL cell may reference as `${name}` or `:name`."""
        return self.getAll()


@dataclass(frozen=True, slots=True)
class FileInfo:
    """An entry of `dbutils.fs.ls`, with Databricks' field names."""

    path: str
    name: str
    size: int
    modificationTime: int


class FileSystem:
    """`dbutils.fs` on local paths (`dbfs:/x` and `/dbfs/x` resolve below the project root)."""

    def __init__(self, resolve: Callable[[str], Path]):
        self._resolve = resolve

    def ls(self, path: str) -> list[FileInfo]:
        folder = self._existing(path)
        entries = [folder] if folder.is_file() else sorted(folder.iterdir())
        result = []
        for entry in entries:
            stat = entry.stat()
            name = entry.name + ("/" if entry.is_dir() else "")
            result.append(
                FileInfo(
                    path=str(entry) + ("/" if entry.is_dir() else ""),
                    name=name,
                    size=0 if entry.is_dir() else stat.st_size,
                    modificationTime=int(stat.st_mtime * 1000),
                )
            )
        return result

    def head(self, file: str, maxBytes: int = 65536) -> str:
        with self._existing(file).open("rb") as handle:
            return handle.read(maxBytes).decode("utf-8", errors="replace")

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        target = self._resolve(file)
        if target.exists() and not overwrite:
            raise UserCodeError(f"dbutils.fs.put: {file} already exists", hint="pass overwrite=True")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(contents, encoding="utf-8")
        return True

    def cp(self, from_: str, to: str, recurse: bool = False) -> bool:
        source, target = self._existing(from_), self._resolve(to)
        if source.is_dir():
            if not recurse:
                raise UserCodeError(f"dbutils.fs.cp: {from_} is a folder", hint="pass recurse=True")
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        return True

    def mv(self, from_: str, to: str, recurse: bool = False) -> bool:
        source, target = self._existing(from_), self._resolve(to)
        if source.is_dir() and not recurse:
            raise UserCodeError(f"dbutils.fs.mv: {from_} is a folder", hint="pass recurse=True")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        target = self._resolve(path)
        if not target.exists():
            return False
        if target.is_dir():
            if not recurse:
                raise UserCodeError(f"dbutils.fs.rm: {path} is a folder", hint="pass recurse=True")
            shutil.rmtree(target)
        else:
            target.unlink()
        return True

    def mkdirs(self, path: str) -> bool:
        self._resolve(path).mkdir(parents=True, exist_ok=True)
        return True

    def _existing(self, path: str) -> Path:
        resolved = self._resolve(path)
        if not resolved.exists():
            raise UserCodeError(
                f"dbutils.fs: {path} does not exist ({resolved})",
                hint="paths are relative to the project root; dbfs:/ maps there too",
            )
        return resolved


class Secrets:
    """`dbutils.secrets`."""

    def __init__(self, store: SecretStore):
        self._store = store

    def get(self, scope: str, key: str) -> str:
        return self._store.get(scope, key)

    def getBytes(self, scope: str, key: str) -> bytes:
        return self._store.get(scope, key).encode("utf-8")

    def list(self, scope: str) -> builtins.list[dict[str, str]]:
        return [{"key": key} for key in self._store.keys(scope)]

    def listScopes(self) -> builtins.list[dict[str, str]]:
        return [{"name": scope} for scope in self._store.scopes()]


class NotebookUtils:
    """`dbutils.notebook`: `exit` ends this notebook; `run` runs another one and returns its exit value."""

    def __init__(self, run_child: Callable[[str, int, dict[str, str]], str]):
        self._run_child = run_child

    def exit(self, value: Any = "") -> None:
        raise NotebookExit("" if value is None else str(value))

    def run(self, path: str, timeout_seconds: int = 0, arguments: dict[str, Any] | None = None) -> str:
        return self._run_child(path, timeout_seconds, {k: str(v) for k, v in (arguments or {}).items()})


class DBUtils:
    """The `dbutils` object notebooks see."""

    def __init__(self, *, widgets: Widgets, fs: FileSystem, secrets: Secrets, notebook: NotebookUtils):
        self.widgets = widgets
        self.fs = fs
        self.secrets = secrets
        self.notebook = notebook

    def help(self) -> None:
        print("dbutils on lockgate: widgets, notebook (run, exit), fs, secrets")  # noqa: T201
