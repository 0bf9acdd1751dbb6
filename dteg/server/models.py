"""What the API sends and receives (``/api/v1``): pydantic models, separate from the store's
records. The OpenAPI document (``docs/openapi.json``) is generated from these; the web UI
(``web/``) and scripts rely on them, so a field is added, never renamed or removed, within v1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RunStatus = Literal["queued", "dispatched", "running", "succeeded", "failed", "cancelled"]
RunKind = Literal["schedule", "catchup", "manual", "backfill", "trigger", "retry"]
# never_run: no run yet; error: the newest file does not compile (the last good revision
# keeps running); otherwise the status of the newest run.
PipelineStatus = Literal["never_run", "error", "queued", "dispatched", "running", "succeeded",
                         "failed", "cancelled"]


class ErrorBody(BaseModel):
    """Every error the API answers with (4xx and 5xx): ``{"error": {...}}``."""

    type: str = Field(description="not_found, invalid_request, invalid_pipeline, conflict, "
                      "internal, …")
    message: str
    file: str | None = Field(default=None, description="The pipeline file, when it is about one")
    line: int | None = None
    step: str | None = None
    hint: str | None = Field(default=None, description="What to do next")
    problems: list[ErrorBody] = Field(default_factory=list,
                                      description="Each problem, when several were found")


class ErrorResponse(BaseModel):
    error: ErrorBody


class RunBrief(BaseModel):
    id: str
    status: RunStatus
    kind: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = None


class PipelineSummary(BaseModel):
    name: str
    file: str = Field(description="The file's path, relative to the served folder")
    revision: str = Field(description="sha256 of the revision that runs")
    schedule: str | None = None
    paused: bool = False
    status: PipelineStatus
    error: str | None = Field(default=None, description="Why the newest revision does not compile")
    next_run_at: datetime | None = None
    last_run: RunBrief | None = None
    last_success_at: datetime | None = None
    recent_seconds: list[float] = Field(
        default_factory=list, description="Durations of the newest finished runs, oldest "
        "first (for a sparkline)")
    access_level: str | None = None
    permissions: list[str] = Field(
        default_factory=list, description="What the caller may do with it (pipelines.write, "
        "pipelines.pause, runs.trigger, runs.cancel, dead_letters.read)")


class GraphNode(BaseModel):
    id: str
    label: str
    kind: str = Field(description="extract, load, transform, validate, mask, … or dataset / "
                      "pipeline in the lineage graph")
    type: str | None = None
    line: int | None = None
    generated: bool = Field(default=False,
                            description="Added by dteg (validate, mask, dead_letter)")


class GraphEdge(BaseModel):
    source: str
    target: str


class Graph(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class PipelineDetail(PipelineSummary):
    yaml: str = Field(description="The file as written (secrets stay ${env:…} references)")
    plan: dict[str, Any] = Field(description="What `dteg plan --format json` prints")
    graph: Graph
    warnings: list[str] = Field(default_factory=list)


class PipelinePage(BaseModel):
    items: list[PipelineSummary]
    problems: list[ErrorBody] = Field(default_factory=list,
                                      description="Files in the folder that do not compile")


class ValidateRequest(BaseModel):
    yaml: str = Field(description="The pipeline file's text")
    filename: str = Field(default="pipeline.yaml", description="Named in the errors' file:line")


class ValidateResult(BaseModel):
    valid: bool
    pipeline: str | None = None
    errors: list[ErrorBody] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    plan: dict[str, Any] | None = None


class RevisionRequest(BaseModel):
    yaml: str = Field(description="The new text of the pipeline file; its pipeline.name "
                      "must be the name in the path")


class RevisionResult(BaseModel):
    pipeline: str
    file: str
    revision: str
    created: bool = Field(description="A new file (false: an existing one was updated)")
    changed: bool = Field(description="The text differs from the revision before")


class TriggerRequest(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="Run parameters (as for a backfill partition)")


class BackfillRequest(BaseModel):
    start: str = Field(description="First cursor value (inclusive): 2026-11-01, "
                       "2026-11-01T06:00, or a number")
    end: str = Field(description="Last cursor value (exclusive)")
    step: str = Field(default="1d", description="Partition width: 1d, 6h, 30m, 1w, or a number")
    restart: bool = Field(default=False, description="Run partitions that finished earlier again")


class BackfillResult(BaseModel):
    pipeline: str
    backfill: str = Field(description="The backfill's id")
    description: str
    partitions: int
    done_before: int = Field(description="Partitions that finished in an earlier backfill")
    queued: list[RunBrief]
    already_queued: int = Field(description="Partitions with a run in the queue already")


class StepCount(BaseModel):
    step: str
    kind: str
    attempt: int
    rows_in: int
    rows_out: int
    dead_letter: int
    filtered: int = 0
    loaded: int


class AttemptInfo(BaseModel):
    number: int
    worker: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    status: str
    error: str | None = None
    retriable: bool | None = None
    seconds: float | None = None


class Run(RunBrief):
    pipeline: str
    revision: str
    scheduled_at: datetime | None = None
    not_before: datetime
    attempt: int
    max_attempts: int
    worker: str | None = None
    error: str | None = None
    retriable: bool | None = None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_dead_lettered: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    triggered_by: str | None = None


class RunPage(BaseModel):
    items: list[Run]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for the next page; "
                                    "null on the last page")


class RunDetail(Run):
    attempts: list[AttemptInfo] = Field(default_factory=list)
    steps: list[StepCount] = Field(default_factory=list,
                                   description="Counts of the newest attempt that has them")
    reconciles: bool | None = None
    quality: dict[str, Any] | None = Field(default=None,
                                           description="Rule results per validate step")
    schema_drift: list[dict[str, Any]] = Field(default_factory=list)
    dbt: list[dict[str, Any]] = Field(default_factory=list)
    targets: dict[str, str] = Field(default_factory=dict)
    dead_letter_target: str | None = None
    datasets: list[DatasetRef] = Field(default_factory=list,
                                       description="What the run read and wrote")


class DeadLetterSample(BaseModel):
    run_id: str
    target: str | None
    readable: bool = Field(description="False when the dead letters went to a sink the "
                           "server cannot read back (a database, a bucket)")
    total: int | None = None
    records: list[dict[str, Any]] = Field(default_factory=list,
                                          description="Masked as the pipeline masks them")
    note: str | None = None


class LogLine(BaseModel):
    id: int
    attempt: int
    at: datetime
    level: str
    step: str | None = None
    message: str


class LogPage(BaseModel):
    items: list[LogLine]
    next_after: int = Field(description="Pass as ?after= for the lines that follow")
    finished: bool = Field(description="The run has ended: no more lines will come")


class ScheduleTimes(BaseModel):
    pipeline: str
    schedule: str | None
    timezone: str | None = None
    paused: bool
    next: list[datetime]


class DatasetRef(BaseModel):
    id: str = Field(description="namespace/name")
    namespace: str
    name: str
    direction: Literal["input", "output"]
    step: str


class SchemaVersion(BaseModel):
    first_seen: datetime
    run_id: str
    fields: list[dict[str, str]]


class Dataset(BaseModel):
    id: str
    namespace: str
    name: str
    producers: list[str] = Field(default_factory=list, description="Pipelines that write it")
    consumers: list[str] = Field(default_factory=list, description="Pipelines that read it")
    schema_history: list[SchemaVersion] = Field(default_factory=list,
                                                description="Newest first")


class Lineage(BaseModel):
    graph: Graph
    datasets: list[Dataset]


class RulePoint(BaseModel):
    run_id: str
    at: datetime
    step: str
    rule: str
    failed: int
    rows: int
    ratio: float | None = None
    passed: bool


class QualityHistory(BaseModel):
    pipeline: str
    points: list[RulePoint] = Field(description="Oldest first")


class AlertDelivery(BaseModel):
    id: int
    pipeline: str
    run_id: str | None = None
    channel: str
    event: str
    status: str
    error: str | None = None
    at: datetime


class HourBucket(BaseModel):
    hour: datetime
    counts: dict[str, int]


class Overview(BaseModel):
    since: datetime
    runs_by_status: dict[str, int]
    runs_by_hour: list[HourBucket]
    failing: list[PipelineSummary] = Field(description="Pipelines whose newest run failed")
    stale: list[PipelineSummary] = Field(description="Pipelines past their freshness limit, "
                                         "or whose newest file does not compile")
    active: list[Run]


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    ready: bool
    store: bool
    scheduler: bool | None = Field(
        default=None,
        description="The scheduler loop made a pass in the last 10 s (null: no scheduler in "
        "this process)")
    ui: bool = Field(description="The built web UI is being served")


RunDetail.model_rebuild()
