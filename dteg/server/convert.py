"""Store records and compiled specs → API models."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from dteg.orchestrator.catalog import Revision
from dteg.orchestrator.store.records import AttemptRow, PipelineRow, RunRow
from dteg.orchestrator.store.records import LogLine as LogRow
from dteg.orchestrator.ticks import next_tick
from dteg.server.models import (
    AttemptInfo,
    Graph,
    GraphEdge,
    GraphNode,
    LogLine,
    PipelineSummary,
    Run,
    RunBrief,
)
from dteg.spec.models import PipelineSpec

# Durations shown in a pipeline's sparkline.
SPARK_RUNS = 20


def brief(run: RunRow) -> RunBrief:
    return RunBrief(id=run.id, status=run.status, kind=run.kind,  # type: ignore[arg-type]
                    created_at=run.created_at, started_at=run.started_at,
                    finished_at=run.finished_at, seconds=run.seconds)


def run_model(run: RunRow) -> Run:
    return Run(
        id=run.id, status=run.status, kind=run.kind,  # type: ignore[arg-type]
        created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
        seconds=run.seconds, pipeline=run.pipeline, revision=run.sha256,
        scheduled_at=run.scheduled_at, not_before=run.not_before, attempt=run.attempt,
        max_attempts=run.max_attempts, worker=run.worker, error=run.error,
        retriable=run.retriable, rows_read=run.rows_read, rows_loaded=run.rows_loaded,
        rows_dead_lettered=run.rows_dead_lettered, params=run.params or {},
        triggered_by=run.triggered_by)


def attempt_model(row: AttemptRow) -> AttemptInfo:
    return AttemptInfo(number=row.number, worker=row.worker, started_at=row.started_at,
                       finished_at=row.finished_at, status=row.status, error=row.error,
                       retriable=row.retriable, seconds=row.seconds)


def log_model(line: LogRow) -> LogLine:
    return LogLine(id=line.id, attempt=line.attempt, at=line.at, level=line.level,
                   step=line.step, message=line.message)


def relative_file(path: Path | str, folder: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(folder))
    except ValueError:
        return str(path)


def next_run_at(revision: Revision, row: PipelineRow | None, now: datetime
                ) -> datetime | None:
    schedule, cron = revision.schedule, revision.cron_schedule
    if schedule is None or cron is None or (row is not None and row.paused):
        return None
    after = max(now, row.last_tick) if row is not None and row.last_tick else now
    return next_tick(cron, schedule, after)


def pipeline_summary(revision: Revision, row: PipelineRow | None, newest: list[RunRow],
                     folder: Path, now: datetime, problem: str | None = None
                     ) -> PipelineSummary:
    """``newest``: the pipeline's newest runs, newest first."""
    last = newest[0] if newest else None
    finished = [r.seconds for r in newest if r.finished and r.seconds is not None]
    error = problem or (row.error if row is not None else None)
    status = "error" if error else (last.status if last else "never_run")
    return PipelineSummary(
        name=revision.name, file=relative_file(revision.path, folder),
        revision=revision.sha256,
        schedule=revision.schedule.cron if revision.schedule is not None else None,
        paused=bool(row.paused) if row is not None else False,
        status=status,  # type: ignore[arg-type]
        error=error, next_run_at=next_run_at(revision, row, now),
        last_run=brief(last) if last else None,
        last_success_at=row.last_success if row is not None else None,
        recent_seconds=list(reversed(finished[:SPARK_RUNS])),
        access_level=revision.spec.body.security.access_level)


def step_graph(spec: PipelineSpec) -> Graph:
    """The steps as a graph: one node per step, an edge from each input to its reader."""
    nodes = [GraphNode(id=s.name, label=s.name, kind=s.kind, type=s.component or s.type,
                       line=s.location.line,
                       generated=s.generated_from is not None or s.is_dead_letter_sink)
             for s in spec.steps]
    edges = [GraphEdge(source=source, target=s.name) for s in spec.steps for source in s.inputs]
    return Graph(nodes=nodes, edges=edges)


def summary_part(summary: dict[str, Any] | None, key: str, default: Any) -> Any:
    value = (summary or {}).get(key)
    return default if value is None else value
