from __future__ import annotations

import json

import pytest

from lockgate.errors import ProjectError
from lockgate.model.notebook import Cell, Notebook, parse_notebook

DATABRICKS_PY = """\
# Databricks notebook source
# MAGIC %md
# MAGIC # Load patients
# MAGIC
# MAGIC Reads the bronze table.

# COMMAND ----------

# DBTITLE 1,Imports
from pyspark.sql import functions as F

# COMMAND ----------

dbutils.widgets.text("env", "dev")
env = dbutils.widgets.get("env")
df = spark.table(f"{env}_bronze.patients")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT *
# MAGIC FROM silver.patients
# MAGIC WHERE id > 0

# COMMAND ----------

# MAGIC %run ./helpers/common $env="prod" $limit=10

# COMMAND ----------

# MAGIC %pip install requests==2.32.3

# COMMAND ----------

# DBTITLE 1,Shell
# MAGIC %sh ls /dbfs

# COMMAND ----------

# MAGIC %md-sandbox <b>done</b>
"""


def by_index(notebook: Notebook) -> dict[int, Cell]:
    return {cell.index: cell for cell in notebook.cells}


def test_databricks_python_source_cells() -> None:
    notebook = parse_notebook(DATABRICKS_PY, file="nb/load.py")

    assert (notebook.file, notebook.format, notebook.language) == ("nb/load.py", "databricks", "python")
    assert [cell.kind for cell in notebook.cells] == [
        "markdown",
        "python",
        "python",
        "sql",
        "run",
        "pip",
        "sh",
        "markdown",
    ]
    assert [cell.index for cell in notebook.cells] == list(range(1, 9))
    cells = by_index(notebook)
    assert cells[1].source == "# Load patients\n\nReads the bronze table."
    assert cells[2].title == "Imports"
    assert cells[2].source == "from pyspark.sql import functions as F"
    assert cells[3].title is None
    assert cells[4].source == "SELECT *\nFROM silver.patients\nWHERE id > 0"
    assert cells[6].source == "install requests==2.32.3"
    assert (cells[7].title, cells[7].source) == ("Shell", "ls /dbfs")
    assert cells[8].source == "<b>done</b>"


def test_databricks_cell_lines_map_back_to_the_file() -> None:
    notebook = parse_notebook(DATABRICKS_PY, file="load.py")
    file_lines = DATABRICKS_PY.splitlines()

    for cell in notebook.cells:
        for offset, source_line in enumerate(cell.source.splitlines()):
            file_line = file_lines[cell.line + offset - 1]
            assert file_line.endswith(source_line), (cell.index, offset)
    cells = by_index(notebook)
    assert cells[3].line == 14  # dbutils.widgets.text(...)
    traceback_line = 3  # line 3 of the cell, as a traceback reports it
    assert file_lines[cells[3].line + traceback_line - 1 - 1].startswith("df = spark.table")
    assert cells[4].line == 21  # SELECT *: the line after the %sql magic
    assert cells[2].line == 10  # after the DBTITLE line


def test_run_cell_target_and_arguments() -> None:
    run = by_index(parse_notebook(DATABRICKS_PY, file="load.py"))[5]

    assert run.kind == "run"
    assert run.run_target == "./helpers/common"
    assert run.run_args == {"env": "prod", "limit": "10"}
    assert run.line == 27


def test_databricks_sql_source() -> None:
    text = (
        "-- Databricks notebook source\n"
        "-- MAGIC %md\n"
        "-- MAGIC ## Silver\n"
        "\n"
        "-- COMMAND ----------\n"
        "\n"
        "-- DBTITLE 1,Build\n"
        "CREATE OR REPLACE TABLE silver.x AS\n"
        "SELECT 1 AS id;\n"
        "\n"
        "-- COMMAND ----------\n"
        "\n"
        "-- MAGIC %python\n"
        "-- MAGIC print('hi')\n"
    )
    notebook = parse_notebook(text, file="silver.sql")

    assert (notebook.format, notebook.language) == ("databricks", "sql")
    assert [(cell.kind, cell.line, cell.title) for cell in notebook.cells] == [
        ("markdown", 3, None),
        ("sql", 8, "Build"),
        ("python", 14, None),
    ]
    assert notebook.cells[1].source == "CREATE OR REPLACE TABLE silver.x AS\nSELECT 1 AS id;"
    assert notebook.cells[2].source == "print('hi')"


def test_magic_kinds_the_runtime_decides_on() -> None:
    magics = ["%fs ls /", "%scala println(1)", "%r print(1)", "%conda list", "%python\nx = 1"]
    text = "# Databricks notebook source\n" + "\n# COMMAND ----------\n".join(
        "\n".join(f"# MAGIC {line}" for line in magic.splitlines()) for magic in magics
    )
    notebook = parse_notebook(text, file="k.py")

    assert [cell.kind for cell in notebook.cells] == ["fs", "scala", "r", "conda", "python"]
    assert notebook.cells[4].source == "x = 1"


def test_unknown_magic_is_a_project_error_with_a_suggestion() -> None:
    text = "# Databricks notebook source\n# MAGIC %sqll\n# MAGIC SELECT 1\n"
    with pytest.raises(ProjectError, match=r"b\.py:2: unknown cell magic %sqll") as info:
        parse_notebook(text, file="b.py")
    assert info.value.hint is not None and "did you mean %sql?" in info.value.hint


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%run", "without a notebook path"),
        ("%run ./x env=prod", "cannot read %run argument 'env=prod'"),
        ('%run ./x $a="unclosed', "cannot read %run arguments"),
    ],
)
def test_malformed_run_cells(line: str, message: str) -> None:
    text = f"# Databricks notebook source\n\n# MAGIC {line}\n"
    with pytest.raises(ProjectError, match=message):
        parse_notebook(text, file="r.py")


def test_run_must_be_alone_in_its_cell() -> None:
    text = "# Databricks notebook source\n# MAGIC %run ./a\n# MAGIC %run ./b\n"
    with pytest.raises(ProjectError, match="exactly one line"):
        parse_notebook(text, file="r.py")


def test_crlf_and_byte_order_mark() -> None:
    lines = ["\ufeff# Databricks notebook source", "x = 1", "", "# COMMAND ----------", "", "# MAGIC %sql"]
    text = "\r\n".join([*lines, "# MAGIC SELECT 1", ""])
    notebook = parse_notebook(text, file="w.py")

    assert [(cell.kind, cell.source, cell.line) for cell in notebook.cells] == [
        ("python", "x = 1", 2),
        ("sql", "SELECT 1", 7),
    ]


def test_plain_python_is_one_cell() -> None:
    notebook = parse_notebook("\n\nimport os\nprint(os.sep)\n", file="job.py")

    assert (notebook.format, notebook.language) == ("python", "python")
    assert notebook.cells == (Cell(index=1, kind="python", source="import os\nprint(os.sep)", line=3),)


def test_plain_python_percent_format() -> None:
    text = '"""Module docstring."""\n# %% [markdown]\n# # Title\n# Some text\n# %% Load\nx = 1\n# %%\n\ny = x + 1\n'
    notebook = parse_notebook(text, file="pct.py")

    assert [(c.index, c.kind, c.source, c.line, c.title) for c in notebook.cells] == [
        (1, "python", '"""Module docstring."""', 1, None),
        (2, "markdown", "# Title\nSome text", 3, None),
        (3, "python", "x = 1", 6, "Load"),
        (4, "python", "y = x + 1", 9, None),
    ]


def test_plain_sql_is_one_cell() -> None:
    notebook = parse_notebook("-- daily\nSELECT 1;\nSELECT 2;\n", file="q.sql")

    assert (notebook.format, notebook.language) == ("sql", "sql")
    assert notebook.cells == (Cell(1, "sql", "-- daily\nSELECT 1;\nSELECT 2;", 1),)


def test_unsupported_suffix() -> None:
    with pytest.raises(ProjectError, match=r"unsupported notebook file type '\.scala'"):
        parse_notebook("// Databricks notebook source\n", file="a.scala")


def ipynb(cells: list[dict[str, object]], metadata: dict[str, object] | None = None) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {}, "cells": cells})


def code(source: str | list[str], **metadata: object) -> dict[str, object]:
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": [], "execution_count": None}


def test_ipynb_cells_and_magics() -> None:
    text = ipynb(
        [
            {"cell_type": "markdown", "source": ["# Title\n", "text"], "metadata": {}},
            code(["import os\n", "x = 1"]),
            code("%sql\nSELECT *\nFROM t"),
            code("%%sql\nSELECT 2"),
            code("%md hello"),
            code('%run ./other $a="1"'),
            code("%pip install x"),
            code("%python\nprint(1)"),
            code("y = 2", **{"application/vnd.databricks.v1+cell": {"title": "Step"}}),
            {"cell_type": "raw", "source": "raw text", "metadata": {}},
        ],
        {"kernelspec": {"name": "python3", "language": "python"}},
    )
    notebook = parse_notebook(text, file="n.ipynb")

    assert (notebook.format, notebook.language) == ("ipynb", "python")
    assert [(c.kind, c.source, c.line) for c in notebook.cells] == [
        ("markdown", "# Title\ntext", 1),
        ("python", "import os\nx = 1", 1),
        ("sql", "SELECT *\nFROM t", 2),
        ("sql", "SELECT 2", 2),
        ("markdown", "hello", 1),
        ("run", './other $a="1"', 1),
        ("pip", "install x", 1),
        ("python", "print(1)", 2),
        ("python", "y = 2", 1),
        ("markdown", "raw text", 1),
    ]
    assert notebook.cells[5].run_target == "./other"
    assert notebook.cells[5].run_args == {"a": "1"}
    assert notebook.cells[8].title == "Step"
    assert [c.index for c in notebook.cells] == list(range(1, 11))


@pytest.mark.parametrize(
    ("metadata", "language"),
    [
        ({"language_info": {"name": "sql"}}, "sql"),
        ({"kernelspec": {"language": "SQL"}}, "sql"),
        ({"application/vnd.databricks.v1+notebook": {"language": "sql"}}, "sql"),
        ({"application/vnd.databricks.v1+notebook": {"language": "python"}}, "python"),
        ({}, "python"),
    ],
)
def test_ipynb_language(metadata: dict[str, object], language: str) -> None:
    notebook = parse_notebook(ipynb([code("SELECT 1")], metadata), file="l.ipynb")

    assert notebook.language == language
    assert notebook.cells[0].kind == language


def test_ipynb_unsupported_language() -> None:
    with pytest.raises(ProjectError, match="unsupported notebook language 'scala'"):
        parse_notebook(ipynb([], {"language_info": {"name": "scala"}}), file="s.ipynb")


def test_corrupt_ipynb_json_is_located() -> None:
    text = '{\n  "cells": [\n    {"cell_type": "code",,}\n  ]\n}'
    with pytest.raises(ProjectError, match=r"c\.ipynb:3:\d+: corrupt notebook: invalid JSON") as info:
        parse_notebook(text, file="c.ipynb")
    assert info.value.hint is not None
    assert info.value.location is not None and info.value.location.line == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"worksheets": []}', "no 'cells' list"),
        ("[1, 2]", "no 'cells' list"),
        ('{"cells": [{"source": "x"}]}', "cell 1 has no cell_type"),
        ('{"cells": [{"cell_type": "code", "source": 3}]}', "cell 1 has a malformed source"),
    ],
)
def test_invalid_ipynb_structure(text: str, message: str) -> None:
    with pytest.raises(ProjectError, match=message):
        parse_notebook(text, file="bad.ipynb")
