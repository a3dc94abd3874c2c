"""OpenLineage run events for runs and their activities, to a file or an HTTP endpoint (`lineage:` in lockgate.yaml).

Each pipeline run is a job `<pipeline>`; each activity attempt a job `<pipeline>.<activity key>` whose parent is
the pipeline run. An activity's START event is sent when it starts, and COMPLETE / FAIL / ABORT when it ends,
with the tables it read (inputs) and wrote (outputs) and their row counts. Tables are datasets in namespace
`file` named by their Delta folder, as OpenLineage names files. Run ids are UUIDs derived from lockgate's ids,
so the same attempt always gets the same OpenLineage run id.

A lineage backend that is down never fails a run: sending errors are logged and the run goes on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lockgate.errors import UserInputError
from lockgate.model.project import LineageConfig
from lockgate.services.run_events import (
    ActivityFinished,
    ActivityStarted,
    EventSink,
    RunEvent,
    RunFinished,
    RunStarted,
)

logger = logging.getLogger(__name__)

_NAMESPACE_UUID = uuid.UUID("6c6f636b-6761-7465-8000-000000000000")  # "lockgate"
_END_STATE = {"succeeded": "COMPLETE", "failed": "FAIL", "cancelled": "ABORT"}
"""OpenLineage's end event for a run's or an activity's final status (both status enums use these values)."""


def lineage_sink(config: LineageConfig, *, project_root: Path, project_name: str, lake_root: Path) -> EventSink:
    """An event sink that sends OpenLineage events as configured.

    Raises:
        UserInputError: the `openlineage-python` package is not installed.
    """
    try:
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport.file import FileConfig, FileTransport
        from openlineage.client.transport.http import HttpConfig, HttpTransport
    except ImportError as exc:
        raise UserInputError(
            "lockgate.yaml sets `lineage:` but the OpenLineage client is not installed",
            hint='pip install "lockgate[lineage]"',
        ) from exc
    if config.file is not None:
        path = project_root / config.file
        path.parent.mkdir(parents=True, exist_ok=True)
        transport: Any = FileTransport(FileConfig(log_file_path=str(path), append=True))
    else:
        assert config.url is not None
        transport = HttpTransport(HttpConfig(url=config.url, endpoint=config.endpoint, timeout=5.0))
    client = OpenLineageClient(transport=transport)
    return _LineageEmitter(client.emit, config.namespace or project_name, lake_root).handle


class _LineageEmitter:
    def __init__(self, send: Callable[[Any], None], namespace: str, lake_root: Path):
        self._send = send
        self._namespace = namespace
        self._lake_root = lake_root
        self._pipelines: dict[str, str] = {}
        """lockgate run id -> pipeline name, for the parent facet of activity events."""

    def handle(self, event: RunEvent) -> None:
        try:
            if isinstance(event, RunStarted):
                self._pipelines[event.run_id] = event.target
                self._emit("START", event.run_id, event.target)
            elif isinstance(event, RunFinished):
                self._emit(_END_STATE.get(event.status, "OTHER"), event.run_id, event.target, error=event.error)
            elif isinstance(event, ActivityStarted) and event.run_id:
                self._emit_activity("START", event.run_id, event.key, event.attempt)
            elif isinstance(event, ActivityFinished) and event.run_id and event.outcome.attempts > 0:
                outcome = event.outcome
                self._emit_activity(
                    _END_STATE.get(outcome.status, "OTHER"),
                    event.run_id,
                    event.key,
                    outcome.attempts,
                    inputs=outcome.rows_read,
                    outputs=outcome.rows_written,
                    error=str(outcome.error) if outcome.error else None,
                )
        except Exception:  # lineage is an observer: it never fails the run it observes
            logger.warning("could not send an OpenLineage event", exc_info=True)

    def _emit_activity(
        self,
        state: str,
        run_id: str,
        key: str,
        attempt: int,
        *,
        inputs: dict[str, int] | None = None,
        outputs: dict[str, int] | None = None,
        error: str | None = None,
    ) -> None:
        pipeline = self._pipelines.get(run_id, "pipeline")
        self._emit(
            state,
            f"{run_id}/{key}/{attempt}",
            f"{pipeline}.{key}",
            parent=(run_id, pipeline),
            inputs=inputs,
            outputs=outputs,
            error=error,
        )

    def _emit(
        self,
        state: str,
        lockgate_id: str,
        job_name: str,
        *,
        parent: tuple[str, str] | None = None,
        inputs: dict[str, int] | None = None,
        outputs: dict[str, int] | None = None,
        error: str | None = None,
    ) -> None:
        from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import (
            error_message_run,
            input_statistics_input_dataset,
            output_statistics_output_dataset,
            parent_run,
        )

        facets: dict[str, Any] = {}
        if parent is not None:
            facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=_uuid(parent[0])),
                job=parent_run.Job(namespace=self._namespace, name=parent[1]),
            )
        if error:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=error, programmingLanguage="python")
        self._send(
            RunEvent(
                eventType=RunState[state],
                eventTime=datetime.now(UTC).isoformat(),
                run=Run(runId=_uuid(lockgate_id), facets=facets),
                job=Job(namespace=self._namespace, name=job_name),
                inputs=[
                    InputDataset(
                        namespace="file",
                        name=self._dataset(table),
                        inputFacets={
                            "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                                rowCount=rows
                            )
                        },
                    )
                    for table, rows in (inputs or {}).items()
                ],
                outputs=[
                    OutputDataset(
                        namespace="file",
                        name=self._dataset(table),
                        outputFacets={
                            "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                                rowCount=rows
                            )
                        },
                    )
                    for table, rows in (outputs or {}).items()
                ],
            )
        )

    def _dataset(self, table: str) -> str:
        """A table's Delta folder (`schema.table` -> `<lake>/schema/table`); other names (files) as they are."""
        parts = table.split(".")
        if len(parts) == 2 and "/" not in table:
            return str(self._lake_root / parts[0] / parts[1])
        return table


def _uuid(lockgate_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE_UUID, lockgate_id))
