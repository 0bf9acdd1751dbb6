"""/api/v1/quality: the quality dashboard — per pipeline its runs' row counts, dead-letter
rate, rule results (severity per column) and volume anomalies; per dataset its rows,
freshness, schema changes and anomalies over time; a summary of every visible pipeline."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from dteg.governance.anomaly import VolumePoint, flag
from dteg.governance.quality_store import QualityRun, QualityStore
from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.deps import context, revision_of
from dteg.server.quality_models import (
    DatasetQualityOut,
    PipelineQuality,
    PipelineSummary,
    QualitySummary,
)
from dteg.server.routes.catalog import schema_changes, visible_detail
from dteg.server.visibility import visible_pipelines

router = APIRouter(prefix="/quality", tags=["quality"])
Context = Annotated[ServerContext, Depends(context)]
Name = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=200)]


def quality_store(ctx: ServerContext) -> QualityStore:
    return QualityStore.for_folder(ctx.pipelines_dir)


def _anomaly(point: VolumePoint, metric: str) -> dict[str, Any] | None:
    if not point.anomaly:
        return None
    return {"type": "volume", "metric": metric, "value": point.rows, "low": point.low,
            "high": point.high}


def run_rows(runs: list[QualityRun]) -> list[dict[str, Any]]:
    """The runs as the API answers them, each with its volume anomaly (rows in)."""
    volume = flag([(r.run_id, r.finished, r.rows_in) for r in runs])
    out = []
    for run, point in zip(runs, volume, strict=True):
        anomaly = _anomaly(point, "rows_in")
        out.append({"run_id": run.run_id, "finished": run.finished, "status": run.status,
                    "rows_in": run.rows_in, "loaded": run.loaded,
                    "dead_lettered": run.dead_lettered,
                    "dead_letter_rate": round(run.dead_letter_rate, 6),
                    "rules": [{"step": r.step, "rule": r.rule, "column": r.column,
                               "severity": r.severity, "failed": r.failed,
                               "passed": r.passed} for r in run.rules],
                    "anomalies": [anomaly] if anomaly else []})
    return out


@router.get("/pipelines/{name}", response_model=PipelineQuality,
            summary="A pipeline's runs: rows in, loaded, dead-lettered, rule results per "
            "column with severity, volume anomalies (oldest first)")
def pipeline_quality(name: Name, ctx: Context,
                     since: Annotated[str | None, Query(
                         max_length=40, description="ISO time: runs finished at or after")]
                     = None,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
                     _: str = requires("runs.read")) -> Response:
    revision_of(ctx, name)
    runs = quality_store(ctx).runs_encoded(name, since=since, limit=limit)
    # Thousands of rule results: SQLite encodes each run's rules as JSON and the answer is
    # put together from those texts, instead of building and re-validating an object per
    # result (bench/quality_dashboard_bench.py). The shape is the response model's
    # (tests/integration/server/test_quality_api.py validates answers against it).
    volume = flag([(r[0], r[1], r[3]) for r in runs])
    parts = []
    for (run_id, finished, status, rows_in, loaded, dead, rules), point in zip(
            runs, volume, strict=True):
        anomaly = _anomaly(point, "rows_in")
        head = json.dumps({"run_id": run_id, "finished": finished, "status": status,
                           "rows_in": rows_in, "loaded": loaded, "dead_lettered": dead,
                           "dead_letter_rate": round(dead / rows_in, 6) if rows_in else 0.0,
                           "anomalies": [anomaly] if anomaly else []},
                          separators=(",", ":"))
        parts.append(f'{head[:-1]},"rules":{rules}}}')
    body = '{"pipeline":' + json.dumps(name) + ',"runs":[' + ",".join(parts) + "]}"
    return Response(body, media_type="application/json")


@router.get("/datasets", response_model=DatasetQualityOut,
            summary="A dataset's writes over time: rows, freshness, schema changes, volume "
            "anomalies (oldest first)")
def dataset_quality(request: Request, ctx: Context,
                    name: Annotated[str, Query(max_length=1000, description="A dataset key "
                                               "(namespace::name) or a unique name")],
                    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                    _: str = requires("lineage.read")) -> dict[str, Any]:
    detail = visible_detail(request, ctx, name, limit)
    writes = [r for r in reversed(detail.runs) if r["role"] == "write"] or \
        list(reversed(detail.runs))
    changes = {c["run_id"]: c for c in schema_changes(detail)}
    volume = flag([(r["run_id"], r["at"], int(r["rows"] or 0)) for r in writes])
    points, previous = [], None
    for run, point in zip(writes, volume, strict=True):
        at = dt.datetime.fromisoformat(run["at"])
        points.append({"run_id": run["run_id"], "at": run["at"], "rows": run["rows"],
                       "freshness_s": None if previous is None else
                       (at - previous).total_seconds(),
                       "schema_change": changes.get(run["run_id"]),
                       "anomaly": _anomaly(point, "rows")})
        previous = at
    return {"dataset": detail.summary.key, "points": points}


@router.get("/summary", response_model=QualitySummary,
            summary="Every visible pipeline: last run, rule pass rate, dead-letter rate and "
            "anomalies over its newest runs")
def summary(request: Request, ctx: Context,
            runs: Annotated[int, Query(ge=1, le=1000)] = 50,
            _: str = requires("runs.read")) -> dict[str, Any]:
    allowed = visible_pipelines(request, ctx, "runs.read")
    store = quality_store(ctx)
    served = set(ctx.current_catalog().revisions)
    out = []
    for name in sorted(served if allowed is None else served & allowed):
        found = store.runs(name, limit=runs)
        results = [r for run in found for r in run.rules]
        rows_in = sum(r.rows_in for r in found)
        rows = run_rows(found)
        out.append(PipelineSummary(
            name=name, last_run=found[-1].finished if found else None,
            pass_rate=(sum(r.failed == 0 for r in results) / len(results)) if results
            else None,
            dead_letter_rate=(sum(r.dead_lettered for r in found) / rows_in) if rows_in
            else None,
            anomalies=sum(bool(r["anomalies"]) for r in rows)))
    return {"pipelines": out}
