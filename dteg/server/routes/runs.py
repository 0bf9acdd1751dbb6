"""/api/v1/runs: pages of runs, one run in full, its dead letters and logs, its live events
(Server-Sent Events), cancel and retry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from dteg.orchestrator.scheduler import queue_run
from dteg.orchestrator.store.reads import RunFilter
from dteg.orchestrator.store.records import RunRow
from dteg.server import pagination
from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.convert import log_model, run_model
from dteg.server.deps import context
from dteg.server.errors import ApiError, ErrorResponse, not_found
from dteg.server.events import follow_run
from dteg.server.models import DeadLetterSample, LogPage, Run, RunDetail, RunPage, RunStatus
from dteg.server.run_detail import dead_letter_sample, run_detail
from dteg.server.visibility import visible_scope

CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorResponse, "description": "The state does not allow it"}}
router = APIRouter(prefix="/runs", tags=["runs"])
Context = Annotated[ServerContext, Depends(context)]
RunId = Annotated[str, "run id"]


def _run(ctx: ServerContext, run_id: str) -> RunRow:
    run = ctx.store.run(run_id)
    if run is None:
        raise not_found(f"run `{run_id}`", hint="GET /api/v1/runs lists the runs (finished "
                        "runs are purged after the server's --keep-runs).")
    return run


@router.get("", response_model=RunPage, summary="Runs, newest first, a page at a time")
def list_runs(
    request: Request,
    ctx: Context,
    pipeline: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[list[RunStatus] | None, Query(description="Repeat for several")] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    since: Annotated[datetime | None, Query(description="Created at or after")] = None,
    until: Annotated[datetime | None, Query(description="Created before")] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    _: str = requires("runs.read"),
) -> RunPage:
    for bound, label in ((since, "since"), (until, "until")):
        if bound is not None and bound.tzinfo is None:
            raise ApiError(422, "invalid_request", f"`{label}` needs a time zone",
                           hint="Write it as 2026-12-01T00:00:00Z or with +02:00.")
    where = RunFilter(pipeline=pipeline, statuses=tuple(status or ()), kind=kind,
                      since=since, until=until,
                      scope=visible_scope(request, ctx, "runs.read"))
    before = pagination.decode(cursor) if cursor else None
    rows = ctx.store.runs_page(where, limit + 1, before)
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    return RunPage(items=[run_model(r, ctx.pipelines_dir) for r in page],
                   next_cursor=pagination.encode(last.created_at, last.id)
                   if more and last else None)


@router.get("/{run_id}", response_model=RunDetail, summary="One run in full")
def get_run(run_id: RunId, ctx: Context, _: str = requires("runs.read")) -> RunDetail:
    return run_detail(_run(ctx, run_id), ctx.store, ctx.current_catalog())


@router.get("/{run_id}/dead-letters", response_model=DeadLetterSample,
            summary="The first dead-lettered records of a run (masked as they landed)")
def dead_letters(run_id: RunId, ctx: Context,
                 limit: Annotated[int, Query(ge=1, le=500)] = 20,
                 _: str = requires("dead_letters.read")) -> DeadLetterSample:
    return dead_letter_sample(_run(ctx, run_id), ctx.store, ctx.current_catalog(), limit)


@router.get("/{run_id}/logs", response_model=LogPage, summary="A page of a run's log")
def logs(run_id: RunId, ctx: Context,
         after: Annotated[int, Query(ge=0, description="The last line id already read")] = 0,
         limit: Annotated[int, Query(ge=1, le=5000)] = 500,
         _: str = requires("runs.read")) -> LogPage:
    run = _run(ctx, run_id)
    lines = ctx.store.logs(run_id, after=after, limit=limit)
    return LogPage(items=[log_model(line) for line in lines],
                   next_after=lines[-1].id if lines else after,
                   finished=run.finished and len(lines) < limit)


@router.get("/{run_id}/events", summary="Follow a run live (Server-Sent Events)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: run` (a Run) on every change of state, "
                             "`event: log` (a LogLine, `id:` its id) per new line, "
                             "`event: end` (the Run) once it finished; then the stream ends."}})
def events(run_id: RunId, request: Request, ctx: Context,
           after: Annotated[int, Query(ge=0, description="Resume after this log line id "
                                       "(or send Last-Event-ID)")] = 0,
           _: str = requires("runs.read")) -> StreamingResponse:
    _run(ctx, run_id)
    resume = request.headers.get("last-event-id", "")
    start = int(resume) if resume.isdigit() else after
    return StreamingResponse(follow_run(ctx.store, run_id, start, request.is_disconnected,
                                        ctx.pipelines_dir),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/{run_id}/cancel", response_model=Run, responses=CONFLICT,
             summary="Cancel a queued or running run")
def cancel(run_id: RunId, ctx: Context, _: str = requires("runs.cancel")) -> Run:
    run = _run(ctx, run_id)
    if not ctx.store.cancel(run_id, ctx.clock()):
        raise ApiError(409, "conflict", f"run `{run_id}` has already {run.status}",
                       hint="Only queued and running runs can be cancelled.")
    return run_model(_run(ctx, run_id), ctx.pipelines_dir)


@router.post("/{run_id}/retry", response_model=Run, status_code=201, responses=CONFLICT,
             summary="Run a finished run again (a new run, same parameters, newest revision)")
def retry(run_id: RunId, ctx: Context, _: str = requires("runs.trigger")) -> Run:
    run = _run(ctx, run_id)
    if not run.finished:
        raise ApiError(409, "conflict", f"run `{run_id}` is still {run.status}",
                       hint="Wait for it to end, or cancel it first.")
    revision = ctx.current_catalog().get(run.pipeline)
    if revision is None:
        raise not_found(f"pipeline `{run.pipeline}`",
                        hint="Its file is no longer in the served folder.")
    again = queue_run(ctx.store, revision, kind="retry", now=ctx.clock(),
                      params=dict(run.params or {}), triggered_by=run.id)
    assert again is not None
    return run_model(again)
