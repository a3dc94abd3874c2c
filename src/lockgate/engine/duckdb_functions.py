"""Spark SQL functions DuckDB lacks, defined as DuckDB macros in every session.

sqlglot passes function names it does not know through unchanged, so a notebook calling `pmod(a, b)` reaches
DuckDB as `PMOD(a, b)`; these macros give such calls Spark's meaning instead of "function does not exist".
Each definition follows Spark's documented behaviour; the tests compare results with values Spark returns.
"""

from __future__ import annotations

SPARK_FUNCTION_MACROS: tuple[str, ...] = (
    # pmod: the positive remainder
    "CREATE MACRO pmod(a, b) AS ((a % b) + b) % b",
    "CREATE MACRO nanvl(a, b) AS CASE WHEN isnan(a) THEN b ELSE a END",
    # bround: round half to even (banker's rounding)
    "CREATE MACRO bround(x, d := 0) AS round_even(x, d)",
    # format_number(1234567.891, 2) = '1,234,567.89'
    "CREATE MACRO format_number(x, d) AS format('{:,.' || CAST(d AS VARCHAR) || 'f}', CAST(x AS DOUBLE))",
    "CREATE MACRO btrim(s) AS trim(s)",
    "CREATE MACRO e() AS exp(1)",
    "CREATE MACRO timestamp_seconds(x) AS to_timestamp(x)",
    "CREATE MACRO timestamp_millis(x) AS epoch_ms(CAST(x AS BIGINT))",
    # Spark promises unique, increasing ids (not consecutive ones); a row number keeps that promise.
    "CREATE MACRO monotonically_increasing_id() AS row_number() OVER () - 1",
)
