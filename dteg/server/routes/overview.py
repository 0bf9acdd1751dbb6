"""/api/v1/overview (what a data engineer looks at first: runs of the last hours by status,
failing and stale pipelines, what runs now) and /api/v1/alerts (the alert history)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from dteg.orchestrator.store.records import ACTIVE
from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.convert import run_model
from dteg.server.deps import context
from dteg.server.models import AlertDelivery, HourBucket, Overview, PipelineSummary
from dteg.server.routes.pipelines import summaries
from dteg.server.visibility import visible_pipelines, visible_scope

router = APIRouter(tags=["overview"])
Context = Annotated[ServerContext, Depends(context)]


def _stale(ctx: ServerContext, item: PipelineSummary) -> bool:
    if item.status == "error":
        return True
    revision = ctx.catalog.get(item.name)
    freshness = revision.spec.body.monitoring.freshness if revision else None
    if freshness is None or item.paused:
        return False
    row = ctx.store.pipeline(item.name)
    since = item.last_success_at or (row.updated_at if row else None)
    return since is not None and ctx.clock() - since > freshness.max_age


@router.get("/overview", response_model=Overview, summary="Runs by status, failing and stale "
            "pipelines, active runs")
def overview(request: Request, ctx: Context,
             hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
             _: str = requires("runs.read")) -> Overview:
    now = ctx.clock()
    since = now - timedelta(hours=hours)
    shown = visible_pipelines(request, ctx, "runs.read")
    statuses = ctx.store.run_statuses_since(since, visible_scope(request, ctx, "runs.read"))
    start = since.replace(minute=0, second=0, microsecond=0)
    buckets: dict[int, Counter[str]] = {}
    for created_at, status in statuses:
        index = int((created_at - start).total_seconds() // 3600)
        buckets.setdefault(index, Counter())[status] += 1
    hours_shown = int((now - start).total_seconds() // 3600) + 1
    by_hour = [HourBucket(hour=start + timedelta(hours=i), counts=dict(buckets.get(i, {})))
               for i in range(hours_shown)]
    items = summaries(ctx, request)
    active = [r for r in ctx.store.runs(status=("queued", *ACTIVE), limit=500)
              if shown is None or r.pipeline in shown][:100]  # served pipelines only
    return Overview(
        since=since, runs_by_status=dict(Counter(status for _at, status in statuses)),
        runs_by_hour=by_hour,
        failing=[i for i in items if i.last_run is not None and i.last_run.status == "failed"],
        stale=[i for i in items if _stale(ctx, i)],
        active=[run_model(r, ctx.pipelines_dir) for r in active])


@router.get("/alerts", response_model=list[AlertDelivery], summary="Alerts sent, newest first")
def alerts(request: Request, ctx: Context,
           pipeline: Annotated[str | None, Query(max_length=200)] = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100,
           _: str = requires("alerts.read")) -> list[AlertDelivery]:
    shown = visible_pipelines(request, ctx, "alerts.read")
    rows = ctx.store.deliveries(pipeline, limit if shown is None else limit * 10)
    return [AlertDelivery(**{k: row[k] for k in AlertDelivery.model_fields})
            for row in rows if shown is None or row["pipeline"] in shown][:limit]
