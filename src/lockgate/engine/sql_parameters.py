"""Databricks parameters in SQL: ``CREATE WIDGET`` declarations and ``${name}``/``{{name}}``/``:name`` references.

Owns :func:`substitute_parameters`, which runs on the raw text before it is split into statements (a reference
may stand for part of a name or of a literal), and :func:`widget_definition`, which reads a declaration from a
statement :mod:`lockgate.engine.sql` kept whole.

Rules:

* Pure: no database access, no state; values come from the caller.
* Substitution is textual, as in Databricks, except that ``:name`` markers become SQL string literals and are
  only recognised outside string literals, quoted identifiers and comments.
* An unknown reference raises ``SqlError`` located in the user's file, with a did-you-mean and the names defined.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlglot import exp

from lockgate.engine.sql import READ_DIALECT, text_position
from lockgate.errors import SourceLocation, SqlError
from lockgate.model.suggest import did_you_mean

# --- references ---------------------------------------------------------------------------------------------

_TEXT_PARAMETER = re.compile(r"\$\{(?P<dollar>[A-Za-z_][\w.]*)\}|\{\{\s*(?P<braces>[A-Za-z_][\w.]*)\s*\}\}")
_MARKER = re.compile(r"(?<![\w)\]}`:.\"'$]):(?P<name>[A-Za-z_]\w*)")
_LITERAL = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)|'(?:\\.|[^'\\])*'?|\"(?:\\.|[^\"\\])*\"?|`[^`]*`?", re.DOTALL)


def substitute_parameters(sql: str, values: Mapping[str, str], *, file: str | None = None, line: int = 1) -> str:
    """Replace Databricks widget and parameter references by their values.

    ``${name}`` and ``{{name}}`` become the raw text everywhere, as in Databricks (so ``'${d}'`` and
    ``${schema}.table`` both work). Named parameter markers ``:name`` become a SQL string literal, only
    outside string literals, quoted identifiers and comments (``x::int`` and ``col:field`` are left alone).

    Args:
        sql: The SQL text.
        values: Parameter values by name.
        file: The file, to locate errors (optional).
        line: The file line where ``sql`` starts.

    Returns:
        The SQL with every reference replaced.

    Raises:
        SqlError: A reference names a parameter that has no value.
    """

    def lookup(name: str, offset: int, text: str) -> str:
        if name in values:
            return values[name]
        close = did_you_mean(name, values)
        suggestion = f"did you mean '{close}'? " if close else ""
        err_line, col = text_position(text, offset)
        raise SqlError(
            f"unknown parameter '{name}'",
            hint=f"{suggestion}defined: {', '.join(sorted(values)) or '(none)'}; "
            "pass it as a notebook parameter or declare a widget",
            location=SourceLocation(file, line + err_line - 1, col) if file is not None else None,
        )

    text = _TEXT_PARAMETER.sub(lambda m: lookup(m["dollar"] or m["braces"], m.start(), sql), sql)
    out, done = [], 0
    for literal in [*_LITERAL.finditer(text), None]:  # markers only in the code between literals
        end = literal.start() if literal is not None else len(text)
        for marker in _MARKER.finditer(text, done, end):
            value = lookup(marker["name"], marker.start(), text)
            out += [text[done : marker.start()], exp.Literal.string(value).sql(dialect=READ_DIALECT)]
            done = marker.end()
        if literal is not None:
            out.append(text[done : literal.end()])
            done = literal.end()
    out.append(text[done:])
    return "".join(out)
