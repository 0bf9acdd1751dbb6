"""Response models of /api/v1/quality (the quality dashboard's contract with the web UI)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RuleResultOut(BaseModel):
    step: str
    rule: str
    column: str = Field(description="The column the rule checks (\"\" for a row-level rule)")
    severity: str = Field(description="fail: a failing rule fails the run (on_failure: fail); "
                          "warn: it only flags or quarantines rows")
    failed: int
    passed: int


class Anomaly(BaseModel):
    type: str = Field(description="volume (rows outside the rolling median ± k·MAD)")
    metric: str
    value: float
    low: float | None = None
    high: float | None = None


class QualityRunOut(BaseModel):
    run_id: str
    finished: str
    status: str
    rows_in: int
    loaded: int
    dead_lettered: int
    dead_letter_rate: float
    rules: list[RuleResultOut]
    anomalies: list[Anomaly]


class PipelineQuality(BaseModel):
    pipeline: str
    runs: list[QualityRunOut] = Field(description="Oldest first")


class DatasetPoint(BaseModel):
    run_id: str
    at: str
    rows: int | None
    freshness_s: float | None = Field(
        description="Seconds since the dataset's previous write (None for the first)")
    schema_change: dict | None = Field(
        default=None, description="The schema version this run wrote, with added/removed/"
        "retyped columns and the downstream pipelines and dbt models")
    anomaly: Anomaly | None = None


class DatasetQualityOut(BaseModel):
    dataset: str
    points: list[DatasetPoint] = Field(description="Oldest first")


class PipelineSummary(BaseModel):
    name: str
    last_run: str | None
    pass_rate: float | None = Field(
        description="Share of rule results (rule × column × run) that failed no row, over "
        "the pipeline's newest runs (`runs`); None without rules")
    dead_letter_rate: float | None = Field(
        description="Dead-lettered / rows in over the same runs")
    anomalies: int = Field(description="Runs with a volume anomaly among them")


class QualitySummary(BaseModel):
    pipelines: list[PipelineSummary]
