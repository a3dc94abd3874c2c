"""The data activities end to end: `copy`, `lookup`, `get_metadata` and `web`, on DuckDB and a real HTTP server.

Each test writes a small project, runs a pipeline through the runner (or the CLI) and checks the activity's
output, the lake's tables, the files written and the stored watermark.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from lockgate.errors import EngineError, ProjectError
from lockgate.model.connection_refs import find_connection_problems
from lockgate.model.pipeline import Pipeline
from lockgate.model.project import HttpConnection, LocalConnection
from lockgate.services.project import load_project
from lockgate.services.query import run_query
from lockgate.services.run_events import ActivityOutcome, RunResult
from lockgate.services.runner import run_pipeline
from lockgate.state import ActivityStatus, RunStatus, StateStore

WriteProject = Callable[[dict[str, str]], Path]

PROJECT_YAML = """\
name: sample
environments:
  dev: {{lake: .lockgate/lake/dev}}
connections:
  landing: {{type: local, path: landing}}
  exports: {{type: local, path: exports}}
{extra}"""

ORDERS_1 = "id,amount,updated_at\n1,10.5,2024-01-01 08:00:00\n2,20.0,2024-01-02 08:00:00\n"
ORDERS_2 = "id,amount,updated_at\n3,30.0,2024-01-03 08:00:00\n4,40.0,2024-01-04 08:00:00\n"


def project_files(pipeline: str, *, extra: str = "", files: dict[str, str] | None = None) -> dict[str, str]:
    """A project with `landing` and `exports` local connections, ``pipeline`` as `pipelines/pipe.yaml`."""
    return {"lockgate.yaml": PROJECT_YAML.format(extra=extra), "pipelines/pipe.yaml": pipeline, **(files or {})}


def run(root: Path, name: str = "pipe") -> RunResult:
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        return run_pipeline(load_project(root), name, store=store)


def outcome(result: RunResult, name: str) -> ActivityOutcome:
    return next(a for a in result.activities if a.name == name)


def succeeded(result: RunResult, name: str) -> Any:
    activity = outcome(result, name)
    assert activity.status == ActivityStatus.succeeded, str(activity.error)
    return activity.output


def failed(result: RunResult, name: str) -> str:
    activity = outcome(result, name)
    assert activity.status == ActivityStatus.failed, activity.output
    assert result.status == RunStatus.failed
    return str(activity.error)


def rows(root: Path, sql: str) -> list[tuple[Any, ...]]:
    return run_query(load_project(root), sql).rows


# -- copy ------------------------------------------------------------------------------------------------------

CSV_TO_TABLE = """\
activities:
  - name: load
    type: copy
    source: {connection: landing, path: "orders/*.csv", format: csv, options: {inferSchema: true}}
    sink: {table: raw.orders, mode: overwrite}
"""


def test_copy_csv_files_to_a_table(write_project: WriteProject) -> None:
    root = write_project(
        project_files(CSV_TO_TABLE, files={"landing/orders/a.csv": ORDERS_1, "landing/orders/b.csv": ORDERS_2})
    )
    result = run(root)
    output = succeeded(result, "load")
    assert output["rowsRead"] == 4
    assert output["rowsCopied"] == 4
    assert output["source"] == {
        "type": "files",
        "connection": "landing",
        "path": "orders/*.csv",
        "format": "csv",
        "files": 2,
    }
    assert output["sink"] == {"type": "table", "table": "raw.orders", "mode": "overwrite"}
    assert output["watermark"] is None
    assert outcome(result, "load").rows_written == {"raw.orders": 4}
    assert outcome(result, "load").rows_read == {"landing:orders/*.csv": 4}
    assert rows(root, "SELECT id, amount FROM raw.orders ORDER BY id") == [(1, 10.5), (2, 20.0), (3, 30.0), (4, 40.0)]
    # overwrite: a second run replaces the rows
    succeeded(run(root), "load")
    assert rows(root, "SELECT count(*) FROM raw.orders") == [(4,)]


def csv_project(write_project: WriteProject, pipeline: str, **files: str) -> Path:
    """A project whose `landing/orders/` holds ``orders_1.csv`` (and more from ``files``: name -> text)."""
    orders = {f"landing/orders/{name}": text for name, text in {"orders_1.csv": ORDERS_1, **files}.items()}
    return write_project(project_files(pipeline, files=orders))


INCREMENTAL = """\
activities:
  - name: load
    type: copy
    source: {connection: landing, path: orders, format: csv, options: {inferSchema: true}}
    sink: {table: raw.orders}
    incremental: {watermark_column: updated_at}
"""


def test_incremental_copy_copies_only_new_rows_and_stores_the_watermark(write_project: WriteProject) -> None:
    root = csv_project(write_project, INCREMENTAL)
    first = succeeded(run(root), "load")
    assert first["rowsCopied"] == 2
    assert first["watermark"] == {"column": "updated_at", "previous": None, "current": "2024-01-02T08:00:00"}

    (root / "landing/orders/orders_2.csv").write_text(ORDERS_2)
    second = succeeded(run(root), "load")
    assert (second["rowsRead"], second["rowsCopied"]) == (2, 2)
    assert second["watermark"] == {
        "column": "updated_at",
        "previous": "2024-01-02T08:00:00",
        "current": "2024-01-04T08:00:00",
    }
    assert rows(root, "SELECT id FROM raw.orders ORDER BY id") == [(1,), (2,), (3,), (4,)]
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        assert store.get_watermark("dev", "pipe.load") == "2024-01-04T08:00:00"

    third = succeeded(run(root), "load")  # nothing new: nothing written, watermark kept
    assert (third["rowsRead"], third["rowsCopied"]) == (0, 0)
    assert third["watermark"]["current"] == "2024-01-04T08:00:00"
    assert rows(root, "SELECT count(*) FROM raw.orders") == [(4,)]


def test_a_failed_incremental_write_keeps_the_watermark(write_project: WriteProject) -> None:
    root = csv_project(write_project, INCREMENTAL)
    succeeded(run(root), "load")
    # New rows whose `amount` is text cannot be appended to the table's double column.
    (root / "landing/orders/orders_2.csv").write_text("id,amount,updated_at\n3,lots,2024-01-03 08:00:00\n")
    assert "field 'sink': writing the sink failed: Cast error" in failed(run(root), "load")
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        assert store.get_watermark("dev", "pipe.load") == "2024-01-02T08:00:00"
    (root / "landing/orders/orders_2.csv").write_text(ORDERS_2)
    again = succeeded(run(root), "load")
    assert again["rowsCopied"] == 2
    assert rows(root, "SELECT count(*) FROM raw.orders") == [(4,)]


def test_incremental_watermark_key_and_integer_column(write_project: WriteProject) -> None:
    pipeline = INCREMENTAL.replace("watermark_column: updated_at", 'watermark_column: ID, key: "orders-{{ env.name }}"')
    root = csv_project(write_project, pipeline, **{"orders_2.csv": ORDERS_2.replace("3,", "10,")})
    output = succeeded(run(root), "load")
    # Compared as numbers (10 > 4), not as text: the column is read as an integer.
    assert output["watermark"] == {"column": "id", "previous": None, "current": 10}
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        assert store.get_watermark("dev", "orders-dev") == 10
        assert store.get_watermark("dev", "pipe.load") is None


def test_copy_table_to_parquet_file_and_folder(write_project: WriteProject) -> None:
    pipeline = """\
activities:
  - name: make
    type: sql
    sql: CREATE OR REPLACE TABLE raw.people AS SELECT * FROM VALUES (1, 'ada'), (2, 'bob') AS t(id, name)
  - name: to_file
    type: copy
    depends_on: make
    source: {table: raw.people}
    sink: {connection: exports, path: people/all.parquet, format: parquet}
  - name: to_folder
    type: copy
    depends_on: make
    source: {query: "SELECT id, upper(name) AS name FROM raw.people WHERE id > 1"}
    sink: {connection: exports, path: "people/parts", format: json}
"""
    root = write_project(project_files(pipeline))
    result = run(root)
    to_file = succeeded(result, "to_file")
    assert to_file["sink"] == {
        "type": "files",
        "connection": "exports",
        "path": "people/all.parquet",
        "format": "parquet",
        "files": ["people/all.parquet"],
    }
    assert (to_file["rowsRead"], to_file["rowsCopied"]) == (2, 2)
    assert outcome(result, "to_file").rows_written == {"exports:people/all.parquet": 2}
    assert pq.read_table(root / "exports/people/all.parquet").to_pylist() == [
        {"id": 1, "name": "ada"},
        {"id": 2, "name": "bob"},
    ]
    to_folder = succeeded(result, "to_folder")
    [written] = to_folder["sink"]["files"]
    assert written.startswith("people/parts/part-00000-") and written.endswith(".json")
    assert [json.loads(line) for line in (root / "exports" / written).read_text().splitlines()] == [
        {"id": 2, "name": "BOB"}
    ]
    # A second run replaces the single file and adds a file to the folder; no staging folder is left behind.
    second = run(root)
    succeeded(second, "to_file")
    assert len(list((root / "exports/people/parts").iterdir())) == 2
    assert not [p for p in (root / "exports").rglob("*") if p.name.startswith(".lockgate")]


def test_incremental_copy_of_a_table_with_timestamps_into_a_folder(write_project: WriteProject) -> None:
    pipeline = """\
parameters:
  upto: {type: int, default: 2}
activities:
  - name: make
    type: sql
    sql: |
      CREATE OR REPLACE TABLE raw.events AS
      SELECT id, timestampadd(DAY, id, TIMESTAMP'2024-03-01 00:00:00') AS at
      FROM range(1, 5) AS t(id) WHERE id <= ${upto}
    parameters: {upto: "{{ pipeline.parameters.upto }}"}
  - name: export
    type: copy
    depends_on: make
    source: {table: raw.events}
    sink: {connection: exports, path: events, format: parquet}
    incremental: {watermark_column: at}
"""
    root = write_project(project_files(pipeline))
    first = succeeded(run(root), "export")
    assert first["rowsCopied"] == 2
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        result = run_pipeline(load_project(root), "pipe", store=store, parameters={"upto": 4})
    second = succeeded(result, "export")
    assert (second["rowsRead"], second["rowsCopied"]) == (2, 2)
    assert second["watermark"]["previous"] == first["watermark"]["current"]
    assert second["watermark"]["current"].startswith("2024-03-05T00:00:00")
    files = sorted((root / "exports/events").glob("*.parquet"))
    assert len(files) == 2
    assert sorted(row["id"] for f in files for row in pq.read_table(f).to_pylist()) == [1, 2, 3, 4]


def test_copy_json_lines_and_a_json_array_to_a_table(write_project: WriteProject) -> None:
    pipeline = """\
activities:
  - name: lines
    type: copy
    source: {connection: landing, path: events.jsonl, format: json}
    sink: {table: raw.events}
  - name: array
    type: copy
    depends_on: lines
    source: {connection: landing, path: more.json, format: json}
    sink: {table: raw.events}
"""
    files = {
        "landing/events.jsonl": '{"id": 1, "kind": "click"}\n{"id": 2, "kind": "view"}\n',
        "landing/more.json": '[{"id": 3, "kind": "buy"}]',
    }
    root = write_project(project_files(pipeline, files=files))
    result = run(root)
    assert succeeded(result, "lines")["rowsCopied"] == 2
    assert succeeded(result, "array")["rowsCopied"] == 1
    assert rows(root, "SELECT id, kind FROM raw.events ORDER BY id") == [(1, "click"), (2, "view"), (3, "buy")]


def test_copy_csv_with_a_delimiter_and_no_header(write_project: WriteProject) -> None:
    pipeline = """\
activities:
  - name: load
    type: copy
    source: {connection: landing, path: data.txt, format: csv, options: {header: false, delimiter: ";"}}
    sink: {table: raw.plain}
"""
    root = write_project(project_files(pipeline, files={"landing/data.txt": "a;1\nb;2\n"}))
    assert succeeded(run(root), "load")["rowsCopied"] == 2
    assert rows(root, "SELECT * FROM raw.plain ORDER BY 1") == [("a", "1"), ("b", "2")]


# -- copy: errors ----------------------------------------------------------------------------------------------


def test_copy_from_files_that_do_not_exist(write_project: WriteProject) -> None:
    root = csv_project(write_project, CSV_TO_TABLE.replace("orders/*.csv", "orders/*.parquet"))
    error = failed(run(root), "load")
    assert "pipelines/pipe.yaml:4:" in error
    assert "no files match 'orders/*.parquet' in connection 'landing'" in error
    assert "hint:" in error


def test_copy_from_a_connection_folder_that_does_not_exist(write_project: WriteProject) -> None:
    root = write_project(project_files(CSV_TO_TABLE))
    error = failed(run(root), "load")
    assert "the folder of connection 'landing' does not exist" in error


def test_unknown_watermark_column(write_project: WriteProject) -> None:
    pipeline = INCREMENTAL.replace("watermark_column: updated_at", "watermark_column: updatd_at")
    root = csv_project(write_project, pipeline)
    error = failed(run(root), "load")
    assert "pipelines/pipe.yaml:6:" in error
    assert "field 'incremental.watermark_column': unknown watermark column 'updatd_at'" in error
    assert "did you mean 'updated_at'?" in error


def test_a_source_query_must_only_read(write_project: WriteProject) -> None:
    pipeline = """\
activities:
  - name: load
    type: copy
    source: {query: "DROP TABLE raw.orders"}
    sink: {table: raw.copy}
"""
    root = write_project(project_files(pipeline))
    assert "must be one query (a SELECT)" in failed(run(root), "load")


def test_a_source_query_with_a_syntax_error_points_into_the_pipeline(write_project: WriteProject) -> None:
    pipeline = """\
activities:
  - name: load
    type: copy
    source:
      query: |
        SELECT id
        FROM raw.orders WHERE
    sink: {table: raw.copy}
"""
    root = write_project(project_files(pipeline))
    assert "pipelines/pipe.yaml:7:" in failed(run(root), "load")


def test_a_sink_path_outside_the_connection(write_project: WriteProject) -> None:
    pipeline = CSV_TO_TABLE.replace(
        "sink: {table: raw.orders, mode: overwrite}", "sink: {connection: exports, path: ../x.csv, format: csv}"
    )
    root = csv_project(write_project, pipeline)
    assert "must be a path below the connection's folder" in failed(run(root), "load")


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ("landng", "unknown connection 'landng'"),
        ("api", "connection 'api' is of type 'http', but a copy source needs a connection of type 'local'"),
    ],
)
def test_validate_reports_bad_connections(run_cli, write_project: WriteProject, connection: str, message: str) -> None:
    extra = "  api: {type: http, base_url: 'http://127.0.0.1:9'}\n"
    pipeline = CSV_TO_TABLE.replace("connection: landing", f"connection: {connection}")
    root = write_project(project_files(pipeline, extra=extra))
    result = run_cli("validate", cwd=root)
    assert result.exit_code == 2, result.output
    assert "pipelines/pipe.yaml:4:" in result.stderr
    assert message in result.stderr
    with pytest.raises(ProjectError, match=message):
        load_project(root)


def test_find_connection_problems_for_every_activity_type() -> None:
    pipeline = Pipeline.model_validate(
        {
            "activities": [
                {
                    "name": "c",
                    "type": "copy",
                    "source": {"table": "a.b"},
                    "sink": {"connection": "api", "path": "x", "format": "csv"},
                },
                {"name": "l", "type": "lookup", "source": {"connection": "nope", "format": "csv"}},
                {"name": "g", "type": "get_metadata", "connection": "files"},
                {"name": "w", "type": "web", "connection": "files"},
                {"name": "t", "type": "web", "connection": "{{ env.vars.api }}"},
                {"name": "ok", "type": "web", "connection": "api"},
            ]
        }
    )
    connections = {
        "files": LocalConnection(type="local", path="data"),
        "api": HttpConnection(type="http", base_url="http://x"),
    }
    problems = find_connection_problems(pipeline, connections, lambda path: path)  # type: ignore[arg-type,return-value]
    assert [(p.location, p.message) for p in problems] == [
        (
            ("activities", 0, "sink", "connection"),
            "connection 'api' is of type 'http', but a copy sink needs a connection of type 'local'",
        ),
        (("activities", 1, "source", "connection"), "unknown connection 'nope'"),
        (
            ("activities", 3, "connection"),
            "connection 'files' is of type 'local', but a web activity needs a connection of type 'http'",
        ),
    ]
    assert problems[0].hint == "connections of type 'local': files"


# -- lookup ----------------------------------------------------------------------------------------------------

LOOKUPS = """\
activities:
  - name: make
    type: sql
    sql: |
      CREATE TABLE raw.cities AS
      SELECT * FROM VALUES (1, 'Oslo', DATE'2024-05-01', 1.5), (2, 'Rome', DATE'2024-06-01', 2.25)
        AS t(id, name, day, score)
  - name: first
    type: lookup
    depends_on: make
    source: {query: "SELECT * FROM raw.cities ORDER BY id DESC"}
  - name: all
    type: lookup
    depends_on: make
    first_row_only: false
    source: {table: raw.cities}
  - name: none
    type: lookup
    depends_on: make
    source: {query: "SELECT * FROM raw.cities WHERE id > 99"}
  - name: files
    type: lookup
    first_row_only: false
    source: {connection: landing, path: orders, format: csv}
"""


def test_lookup_first_row_and_all_rows(write_project: WriteProject) -> None:
    root = csv_project(write_project, LOOKUPS)
    result = run(root)
    assert succeeded(result, "first") == {"firstRow": {"id": 2, "name": "Rome", "day": "2024-06-01", "score": 2.25}}
    all_rows = succeeded(result, "all")
    assert all_rows["count"] == 2
    assert all_rows["truncated"] is False
    assert sorted(row["name"] for row in all_rows["value"]) == ["Oslo", "Rome"]
    assert succeeded(result, "none") == {"firstRow": None}
    files = succeeded(result, "files")
    assert files["value"][0] == {"id": "1", "amount": "10.5", "updated_at": "2024-01-01 08:00:00"}  # CSV: text
    assert outcome(result, "all").rows_read == {"raw.cities": 2}


def test_lookup_caps_rows_at_5000(write_project: WriteProject) -> None:
    pipeline = """\
activities:
  - name: many
    type: lookup
    first_row_only: false
    source: {query: "SELECT id FROM range(6000) AS t(id)"}
"""
    root = write_project(project_files(pipeline))
    output = succeeded(run(root), "many")
    assert output["count"] == 5000
    assert len(output["value"]) == 5000
    assert output["truncated"] is True


def test_lookup_of_a_missing_table(write_project: WriteProject) -> None:
    pipeline = "activities:\n  - name: look\n    type: lookup\n    source: {table: raw.nope}\n"
    root = write_project(project_files(pipeline))
    error = failed(run(root), "look")
    assert "table raw.nope does not exist in environment 'dev'" in error


# -- get_metadata ----------------------------------------------------------------------------------------------

METADATA = """\
activities:
  - name: folder
    type: get_metadata
    connection: landing
    path: orders
  - name: file
    type: get_metadata
    connection: landing
    path: orders/orders_1.csv
  - name: missing
    type: get_metadata
    connection: landing
    path: "{{ env.name }}/nothing"
"""


def test_get_metadata_lists_a_folder(write_project: WriteProject) -> None:
    root = csv_project(write_project, METADATA, **{"b.csv": "x\n"})
    (root / "landing/orders/archive").mkdir()
    result = run(root)
    folder = succeeded(result, "folder")
    assert folder["exists"] is True
    assert (folder["itemName"], folder["itemType"]) == ("orders", "Folder")
    assert [(c["name"], c["type"], c["size"]) for c in folder["childItems"]] == [
        ("archive", "Folder", None),
        ("b.csv", "File", 2),
        ("orders_1.csv", "File", len(ORDERS_1)),
    ]
    assert folder["size"] == 2 + len(ORDERS_1)
    assert all(c["lastModified"].endswith("Z") for c in folder["childItems"])
    file = succeeded(result, "file")
    assert (file["itemName"], file["itemType"], file["size"]) == ("orders_1.csv", "File", len(ORDERS_1))
    assert file["childItems"] == []
    missing = succeeded(result, "missing")
    assert missing == {
        "exists": False,
        "itemName": "nothing",
        "itemType": None,
        "size": None,
        "lastModified": None,
        "childItems": [],
    }


def test_get_metadata_output_drives_an_if(write_project: WriteProject) -> None:
    pipeline = (
        METADATA.split("  - name: file")[0]
        + """\
  - name: branch
    type: if
    depends_on: folder
    condition: "{{ activity('folder').output.exists and activity('folder').output.childItems | length > 0 }}"
    if_true:
      - {name: found, type: set_variable, variable: seen, value: "{{ activity('folder').output.childItems | length }}"}
variables:
  seen: {type: string, default: ""}
"""
    )
    root = csv_project(write_project, pipeline)
    result = run(root)
    assert result.status == RunStatus.succeeded, [str(a.error) for a in result.failures]


def test_get_metadata_child_items_feed_a_foreach_of_copies(write_project: WriteProject) -> None:
    pipeline = """\
activities:
  - name: incoming
    type: get_metadata
    connection: landing
    path: orders
  - name: load_each
    type: foreach
    depends_on: [incoming]
    items: "{{ activity('incoming').output.childItems | selectattr('type', 'equalto', 'File') | list }}"
    sequential: true
    activities:
      - name: load
        type: copy
        source: {connection: landing, path: "orders/{{ item.name }}", format: csv}
        sink: {table: raw.orders}
"""
    root = csv_project(write_project, pipeline, **{"orders_2.csv": ORDERS_2})
    (root / "landing/orders/archive").mkdir()
    result = run(root)
    assert result.status == RunStatus.succeeded, [str(a.error) for a in result.failures]
    assert rows(root, "SELECT count(*) FROM raw.orders") == [(4,)]


# -- web -------------------------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *_args: Any) -> None:  # keep test output quiet
        pass

    def _record(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        request = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
        self.server.recorded.append(request)
        return request

    def _send(self, status: int, body: str | bytes, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        request = self._record()
        path = request["path"].removeprefix("/api")
        if path.startswith("/items"):
            self._send(200, json.dumps({"items": [1, 2], "path": request["path"]}))
        elif path == "/whoami":
            self._send(200, json.dumps({"authorization": request["headers"].get("Authorization")}))
        elif path == "/text":
            self._send(200, "plain words", "text/plain; charset=utf-8")
        elif path == "/big":
            self._send(200, b"x" * (1024 * 1024 + 10), "text/plain")
        elif path == "/fail":
            self._send(500, '{"error": "database down"}')
        elif path == "/slow":
            self._send(429, "slow down", "text/plain")
        else:
            self._send(404, "no such thing", "text/plain")

    def do_POST(self) -> None:
        request = self._record()
        self._send(201, json.dumps({"received": request["body"], "type": request["headers"].get("Content-Type")}))


@pytest.fixture
def http_server() -> Iterator[Server]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.recorded = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{server.server_address[1]}/api", server.recorded)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def web_project(
    write_project: WriteProject, server: Server, activities: str, *, authorization: str = "secret:api_token"
) -> Path:
    """A project whose `api` connection points at ``server`` and sends ``authorization``."""
    extra = (
        f"  api:\n    type: http\n    base_url: {server.url}\n    headers: {{Authorization: '{authorization}'}}\n"
        "    timeout: 5\n"
    )
    return write_project(project_files("activities:\n" + activities, extra=extra))


def test_web_get_json_and_post_a_body(
    write_project: WriteProject, http_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_SECRET_DEV_API_TOKEN", "Bearer s3cret-token")
    activities = """\
  - name: get
    type: web
    connection: api
    path: "items?env={{ env.name }}"
  - name: post
    type: web
    connection: api
    method: POST
    path: /orders
    headers: {X-Run: "{{ pipeline.run_id }}"}
    body: {ids: [1, 2], from: "{{ activity('get').output.body['items'] | length }}"}
    depends_on: get
  - name: text
    type: web
    connection: api
    method: POST
    path: notes
    body: "hello"
"""
    root = web_project(write_project, http_server, activities)
    result = run(root)
    get = succeeded(result, "get")
    assert get["statusCode"] == 200
    assert get["body"] == {"items": [1, 2], "path": "/api/items?env=dev"}
    assert get["headers"]["Content-Type"] == "application/json"
    assert get["bodyTruncated"] is False
    post = succeeded(result, "post")
    assert post["statusCode"] == 201
    assert json.loads(post["body"]["received"]) == {"ids": [1, 2], "from": 2}
    assert post["body"]["type"] == "application/json"
    assert succeeded(result, "text")["body"] == {"received": "hello", "type": "text/plain; charset=utf-8"}
    sent = {r["path"]: r["headers"] for r in http_server.requests}
    assert sent["/api/orders"]["Authorization"] == "Bearer s3cret-token"
    assert sent["/api/orders"]["X-Run"] == result.run_id


def test_web_secret_header_is_never_shown(
    run_cli, write_project: WriteProject, http_server: Server, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setenv("LOCKGATE_SECRET_DEV_API_TOKEN", "Bearer s3cret-token")
    activities = """\
  - name: who
    type: web
    connection: api
    path: whoami
  - name: broken
    type: web
    connection: api
    path: fail
    headers: {X-Token: "secret:api_token"}
"""
    root = web_project(write_project, http_server, activities)
    caplog.set_level(logging.DEBUG)
    result = run_cli("--debug", "run", "pipe", cwd=root)
    assert result.exit_code != 0
    assert http_server.requests[0]["headers"]["Authorization"] == "Bearer s3cret-token"
    assert "s3cret-token" not in result.output
    assert "s3cret-token" not in caplog.text
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        [record] = store.list_runs(limit=1)
        stored = json.dumps([(a.output, a.error, a.log) for a in store.list_activity_runs(record.id)], default=str)
    assert "s3cret-token" not in stored
    assert "[REDACTED]" in stored  # the service echoed the header back; the output masks it


def test_web_base_url_reads_environment_variables(write_project: WriteProject, http_server: Server) -> None:
    root_url, _, prefix = http_server.url.rpartition("/")
    config = f"""\
name: sample
vars:
  api_root: {{default: nowhere}}
environments:
  dev: {{lake: .lockgate/lake/dev, vars: {{api_root: {prefix}}}}}
connections:
  api: {{type: http, base_url: "{root_url}/{{{{ env.vars.api_root }}}}"}}
"""
    pipeline = "activities:\n  - {name: call, type: web, connection: api, path: items}\n"
    root = write_project({"lockgate.yaml": config, "pipelines/pipe.yaml": pipeline})
    assert succeeded(run(root), "call")["body"]["path"] == "/api/items"


def test_web_unexpected_status_fails_with_status_and_body(write_project: WriteProject, http_server: Server) -> None:
    activities = """\
  - name: server_error
    type: web
    connection: api
    path: fail
  - name: not_found
    type: web
    connection: api
    path: nothing/here
  - name: throttled
    type: web
    connection: api
    path: slow
  - name: expected_404
    type: web
    connection: api
    path: nothing
    expected_status: [404]
"""
    root = web_project(write_project, http_server, activities, authorization="plain")
    result = run(root)
    error = outcome(result, "server_error").error
    assert isinstance(error, EngineError)
    assert error.transient is True
    assert f"GET {http_server.url}/fail answered HTTP 500 (expected 2xx): " in str(error)
    assert '{"error": "database down"}' in str(error)
    not_found = outcome(result, "not_found").error
    assert isinstance(not_found, EngineError)
    assert not_found.transient is False
    assert "HTTP 404 (expected 2xx): no such thing" in str(not_found)
    throttled = outcome(result, "throttled").error
    assert isinstance(throttled, EngineError)
    assert throttled.transient is True
    assert succeeded(result, "expected_404")["body"] == "no such thing"


def test_web_text_and_capped_bodies(write_project: WriteProject, http_server: Server) -> None:
    activities = """\
  - name: text
    type: web
    connection: api
    path: text
  - name: big
    type: web
    connection: api
    path: big
"""
    root = web_project(write_project, http_server, activities, authorization="plain")
    result = run(root)
    assert succeeded(result, "text")["body"] == "plain words"
    big = succeeded(result, "big")
    assert big["bodyTruncated"] is True
    assert len(big["body"]) == 1024 * 1024


def test_web_connection_refused_is_transient(write_project: WriteProject) -> None:
    with socket.socket() as probe:  # a port nothing listens on: bound, then released
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = Server(f"http://127.0.0.1:{port}/api")
    root = web_project(write_project, dead, "  - {name: call, type: web, connection: api}\n", authorization="plain")
    error = outcome(run(root), "call").error
    assert isinstance(error, EngineError)
    assert error.transient is True
    assert f"GET http://127.0.0.1:{port}/api failed" in str(error)


def test_web_missing_secret_names_where_it_was_looked_for(write_project: WriteProject, http_server: Server) -> None:
    root = web_project(write_project, http_server, "  - {name: call, type: web, connection: api}\n")
    error = failed(run(root), "call")
    assert "secret 'api_token' in scope 'dev' not found" in error
    assert "LOCKGATE_SECRET_DEV_API_TOKEN" in error
    assert http_server.requests == []
