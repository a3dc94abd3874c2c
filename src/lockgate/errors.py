"""Every error lockgate raises on purpose, and where each one is meant to be caught.

The tree, with the exit code the CLI maps each branch to::

    LockgateError                 never raised directly
      UserInputError              exit 2: the project or the command line is wrong
        ProjectError              malformed YAML, unknown keys or names, cycles, wrong types
        NotFoundError             unknown pipeline / environment / run / table, with did-you-mean
        SecretNotFoundError       lists every provider and key that was tried
        SqlError                  SQL that does not parse, cannot be translated, or names a missing column
        TableNotFoundError        a table that does not exist in the environment
      ConflictError               exit 3: something else holds what we need
      StateError                  exit 4: the state database is too old, too new or corrupt
      EngineError                 exit 5: the engine is missing or failed (``transient`` decides retry)
        TableError                a Delta table is missing, corrupt or unreadable
      UserCodeError               exit 1: a notebook or SQL statement raised; keeps activity and cell
      CheckFailedError            exit 1: a data-quality check of severity `error` failed; carries the results
      ActivityError               exit 1: an activity failed on purpose (`fail`, a loop's iteration failed)
      ActivityTimeoutError        exit 1: an activity ran past its `timeout` and was stopped
      RunFailedError              exit 1: a run finished unsuccessfully; carries the resume hint. When every
                                  failed activity failed with one exit code (2, 5...), the run exits with it
      RunCancelledError           exit 130: the user interrupted a run

``AnalysisError`` is a second base of ``SqlError`` and ``TableNotFoundError``: notebooks see it as PySpark's
``AnalysisException``, so their ``except AnalysisException`` blocks work on every engine.

``retryable`` says whether an activity's `retry` policy may try again after the error: not for bad input, a
deliberate failure or a failed check, which fail the same way every time.

Rules: library exceptions are translated at the module that owns the library (``raise ... from exc``);
messages say what is wrong, ``hint`` says how to fix it; ``location`` names the place when one is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A 1-based position in a file the user wrote."""

    file: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def relative_to(self, root: Path) -> SourceLocation:
        """The same location with ``file`` shown relative to ``root`` when it lies below it."""
        try:
            file = str(Path(self.file).resolve().relative_to(root.resolve()))
        except ValueError:
            file = self.file
        return SourceLocation(file, self.line, self.col)


class LockgateError(Exception):
    """Root of every error lockgate raises on purpose."""

    exit_code = 1
    retryable = True
    """Whether trying again may pass (an activity's `retry` applies)."""

    def __init__(self, message: str, *, hint: str | None = None, location: SourceLocation | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UserInputError(LockgateError):
    exit_code = 2
    retryable = False


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem; a :class:`ProjectError` carries all of a project's problems at once."""

    message: str
    location: SourceLocation | None = None
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ProjectError(UserInputError):
    """The project's files are wrong. ``problems`` lists every problem found, in file order."""

    max_shown = 20

    def __init__(
        self,
        problems: list[Problem] | Problem | str,
        *,
        hint: str | None = None,
        location: SourceLocation | None = None,
    ):
        if isinstance(problems, str):
            problems = [Problem(problems, location, hint)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = tuple(problems)
        first = self.problems[0]
        super().__init__(first.message, hint=first.hint, location=first.location)

    def __str__(self) -> str:
        shown = [str(problem) for problem in self.problems[: self.max_shown]]
        hidden = len(self.problems) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more")
        return "\n".join(shown)


class NotFoundError(UserInputError):
    pass


class SecretNotFoundError(UserInputError):
    pass


class AnalysisError(LockgateError):
    """A query or table reference that cannot be analysed (PySpark's ``AnalysisException``)."""


class SqlError(UserInputError, AnalysisError):
    pass


class TableNotFoundError(NotFoundError, AnalysisError):
    pass


class ConflictError(LockgateError):
    exit_code = 3


class RunSlotsFullError(ConflictError):
    """A pipeline's `concurrency` limit is reached in an environment."""


class StateError(LockgateError):
    exit_code = 4


class EngineError(LockgateError):
    """``detail`` holds what the engine itself said (a log's last lines), shown below the message."""

    exit_code = 5

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: SourceLocation | None = None,
        transient: bool = False,
        detail: str | None = None,
    ):
        super().__init__(message, hint=hint, location=location)
        self.transient = transient
        self.retryable = transient
        self.detail = detail


class TableError(EngineError):
    pass


class UserCodeError(LockgateError):
    """User code (a notebook cell or a SQL statement) raised. ``cause`` is the original exception."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: SourceLocation | None = None,
        cell: int | None = None,
        detail: str | None = None,
    ):
        super().__init__(message, hint=hint, location=location)
        self.cell = cell
        self.detail = detail


class ActivityError(LockgateError):
    """An activity failed on purpose: a `fail` activity (with its error code), or a loop whose passes failed."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: SourceLocation | None = None,
        code: str = "Failed",
        output: object = None,
    ):
        super().__init__(message, hint=hint, location=location)
        self.code = code
        self.output = output
        """What the activity still outputs (a child run's id, a loop's counts), recorded with the failure."""


class ActivityTimeoutError(LockgateError):
    """An activity ran past its `timeout` and was stopped."""


class CheckFailedError(LockgateError):
    """Data-quality checks of severity `error` failed. ``results`` holds every check's result (passed ones too).

    Not retryable: the same data fails the same checks again.
    """

    exit_code = 1
    retryable = False

    def __init__(self, message: str, *, hint: str | None = None, results: Sequence[Any] = ()):
        super().__init__(message, hint=hint)
        self.results = tuple(results)


class RunFailedError(LockgateError):
    """Exit 1, or the exit code all the failed activities' errors share (2 for a missing secret or bad SQL)."""

    exit_code = 1

    def __init__(
        self, message: str, *, hint: str | None = None, run_id: str | None = None, exit_code: int | None = None
    ):
        super().__init__(message, hint=hint)
        self.run_id = run_id
        if exit_code is not None:
            self.exit_code = exit_code


class RunCancelledError(LockgateError):
    exit_code = 130

    def __init__(self, message: str, *, hint: str | None = None, run_id: str | None = None):
        super().__init__(message, hint=hint)
        self.run_id = run_id
