"""`MERGE INTO` as one Spark query that computes the target table's new rows.

Target and source are joined with a full outer join on the merge condition. Each joined row gets the action of
the first `WHEN` clause that applies to it (`WHEN MATCHED`, `WHEN NOT MATCHED [BY TARGET]`, `WHEN NOT MATCHED BY
SOURCE`, each with its optional `AND` condition), as Delta Lake decides it: a row no clause applies to is kept
when it came from the target and dropped when it came only from the source. Each column is then the clause's
value for it: the `SET` expression, the `INSERT` value, or the target's own value. Rows whose action is a
delete, and source rows no clause inserts, are filtered out by the caller, which writes the rest as the table's
next version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from lockgate.engine.delta import Column
from lockgate.errors import SourceLocation, SqlError

ACTION = "__lockgate_merge_action"
_IN_TARGET = "__lockgate_in_target"
_IN_SOURCE = "__lockgate_in_source"
_NO_ROW = "none"


@dataclass(frozen=True, slots=True)
class MergePlan:
    select: exp.Select
    """The joined rows with the table's columns (new values) and the action column."""
    action_column: str
    kept: str
    """Spark SQL condition on the action column: the rows of the table's next version."""
    affecting: tuple[str, ...]
    """Actions that change a row (update, delete, insert): their rows are the statement's affected rows."""


def merge_select(merge: exp.Expr, columns: Sequence[Column], *, location: SourceLocation) -> MergePlan:
    """The plan of ``merge`` (a `MERGE INTO` whose target has an alias) on a table with ``columns``."""
    target = merge.this
    source = merge.args.get("using")
    whens = merge.args.get("whens")
    if not isinstance(target, exp.Table) or source is None or whens is None:
        raise SqlError("MERGE INTO needs a target table, USING and WHEN clauses", location=location)
    target_alias = target.alias_or_name
    source_alias = source.alias_or_name
    if not source_alias:
        raise SqlError("give the MERGE source an alias: USING (...) AS s", location=location)
    in_target = exp.column(_IN_TARGET, table=target_alias).is_(exp.null()).not_()
    in_source = exp.column(_IN_SOURCE, table=source_alias).is_(exp.null()).not_()
    kinds = {
        "matched": exp.and_(in_target.copy(), in_source.copy()),
        "not_matched": exp.not_(in_target.copy()),
        "not_matched_by_source": exp.not_(in_source.copy()),
    }
    action_case = exp.Case()
    values: dict[str, dict[str, exp.Expr]] = {}
    deletes: list[str] = []
    inserts: set[str] = set()
    for index, when in enumerate(whens.expressions):
        action = f"c{index}"
        kind = (
            "matched"
            if when.args.get("matched")
            else ("not_matched_by_source" if when.args.get("source") else "not_matched")
        )
        guard = kinds[kind].copy()
        condition = when.args.get("condition")
        if condition is not None:
            guard = exp.and_(guard, exp.func("COALESCE", condition.copy(), exp.false()))
        action_case = action_case.when(guard, exp.Literal.string(action))
        then = when.args.get("then")
        if isinstance(then, exp.Var) and then.name.upper() == "DELETE":
            deletes.append(action)
        elif isinstance(then, exp.Update):
            values[action] = _update_values(then, columns, source_alias)
        elif isinstance(then, exp.Insert):
            values[action] = _insert_values(then, columns, source_alias, location)
            inserts.add(action)
        else:
            raise SqlError(f"unsupported MERGE action: {then.sql(dialect='spark') if then else '?'}", location=location)
    action_case = action_case.else_(
        exp.If(this=in_target.copy(), true=exp.Literal.string("keep"), false=exp.Literal.string(_NO_ROW))
    )
    projection: list[exp.Expr] = [exp.alias_(action_case, ACTION, quoted=True)]
    for column in columns:
        current = exp.column(column.name, table=target_alias, quoted=True)
        chosen = exp.Case(this=exp.column(ACTION, quoted=True))
        for action, assigned in values.items():
            if column.name.lower() in assigned:
                chosen = chosen.when(
                    exp.Literal.string(action), exp.cast(assigned[column.name.lower()], column.delta_type)
                )
            elif action in inserts:  # an insert leaves unlisted columns NULL; an update keeps their values
                chosen = chosen.when(exp.Literal.string(action), exp.cast(exp.null(), column.delta_type))
        projection.append(
            exp.alias_(chosen.else_(current) if chosen.args.get("ifs") else current, column.name, quoted=True)
        )
    joined = (
        exp.select(*projection)
        .from_(_flagged(target, _IN_TARGET, target_alias))
        .join(_flagged(source, _IN_SOURCE, source_alias), on=merge.args["on"].copy(), join_type="FULL OUTER")
    )
    removed = ", ".join(f"'{action}'" for action in [*deletes, _NO_ROW])
    return MergePlan(
        select=joined,
        action_column=ACTION,
        kept=f"`{ACTION}` NOT IN ({removed})",
        affecting=(*values, *deletes),
    )


def _flagged(node: exp.Expr, flag: str, alias: str) -> exp.Expr:
    """``(SELECT *, TRUE AS flag FROM node) AS alias``: the flag tells joined rows' sides apart."""
    inner = node.copy()
    if isinstance(inner, exp.Subquery):
        inner = inner.this
        relation: exp.Expr = inner.subquery("_merge_side")
    else:
        inner.set("alias", None)
        relation = inner
    return exp.select(exp.Star(), exp.alias_(exp.true(), flag)).from_(relation).subquery(alias)


def _update_values(update: exp.Update, columns: Sequence[Column], source_alias: str) -> dict[str, exp.Expr]:
    if any(isinstance(e, exp.Star) for e in update.expressions):  # UPDATE SET *: every column from the source
        return {c.name.lower(): exp.column(c.name, table=source_alias, quoted=True) for c in columns}
    return {eq.this.name.lower(): eq.expression.copy() for eq in update.expressions}


def _insert_values(
    insert: exp.Insert, columns: Sequence[Column], source_alias: str, location: SourceLocation
) -> dict[str, exp.Expr]:
    if isinstance(insert.this, exp.Star):  # INSERT *: every column from the source
        return {c.name.lower(): exp.column(c.name, table=source_alias, quoted=True) for c in columns}
    names = [column.name.lower() for column in insert.this.expressions]
    given = insert.expression.expressions if insert.expression is not None else []
    if len(names) != len(given):
        raise SqlError(f"MERGE INSERT lists {len(names)} columns but {len(given)} values", location=location)
    return {name: value.copy() for name, value in zip(names, given, strict=True)}
