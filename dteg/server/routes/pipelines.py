"""/api/v1/pipelines: the pipelines a server serves, their files, plans, graphs and
schedules; validate or save a revision; pause, resume, run now, backfill."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam

from dteg.errors import DtegError
from dteg.orchestrator.catalog import Catalog, Revision, sha256_text
from dteg.orchestrator.scheduler import queue_run
from dteg.orchestrator.ticks import next_tick
from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.convert import (
    SPARK_RUNS,
    brief,
    pipeline_summary,
    relative_file,
    run_model,
    step_graph,
)
from dteg.server.deps import context, revision_of
from dteg.server.errors import ApiError, ErrorResponse, error_body, not_found, relative_to
from dteg.server.models import (
    BackfillRequest,
    BackfillResult,
    ErrorBody,
    PipelineDetail,
    PipelinePage,
    PipelineSummary,
    RevisionRequest,
    RevisionResult,
    Run,
    ScheduleTimes,
    TriggerRequest,
    ValidateRequest,
    ValidateResult,
)
from dteg.server.visibility import permissions_on, visible_pipelines

CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorResponse, "description": "The state does not allow it"}}
router = APIRouter(prefix="/pipelines", tags=["pipelines"])
Context = Annotated[ServerContext, Depends(context)]
Name = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=200,
                                description="pipeline.name")]


def problem_for(catalog: Catalog, name: str) -> str | None:
    for problem in catalog.problems.values():
        if problem.pipeline == name:
            return problem.error
    return None


def summary_of(ctx: ServerContext, revision: Revision, request: Request) -> PipelineSummary:
    newest = ctx.store.newest_runs([revision.name], SPARK_RUNS).get(revision.name, [])
    summary = pipeline_summary(revision, ctx.store.pipeline(revision.name), newest,
                               ctx.pipelines_dir, ctx.clock(),
                               problem_for(ctx.catalog, revision.name))
    summary.permissions = permissions_on(request, ctx, revision.name)
    return summary


def summaries(ctx: ServerContext, request: Request) -> list[PipelineSummary]:
    """The pipelines the caller may see, with what they may do with each."""
    catalog = ctx.current_catalog()
    shown = visible_pipelines(request, ctx, "pipelines.read")
    revisions = sorted((r for r in list(catalog.revisions.values())
                        if shown is None or r.name in shown), key=lambda r: r.name)
    rows = {row.name: row for row in ctx.store.pipelines()}
    newest = ctx.store.newest_runs([r.name for r in revisions], SPARK_RUNS)
    now = ctx.clock()
    found = []
    for r in revisions:
        item = pipeline_summary(r, rows.get(r.name), newest.get(r.name, []), ctx.pipelines_dir,
                                now, problem_for(catalog, r.name))
        item.permissions = permissions_on(request, ctx, r.name)
        found.append(item)
    return found


@router.get("", response_model=PipelinePage, summary="List the pipelines")
def list_pipelines(request: Request, ctx: Context, _: str = requires("pipelines.read")
                   ) -> PipelinePage:
    catalog = ctx.current_catalog()
    # A broken file may be any pipeline's: shown to those who see every pipeline.
    everything = visible_pipelines(request, ctx, "pipelines.read") is None
    problems = [ErrorBody(type="invalid_pipeline", message=p.error,
                          file=relative_file(p.path, ctx.pipelines_dir))
                for p in list(catalog.problems.values()) if everything]
    return PipelinePage(items=summaries(ctx, request), problems=problems)


def _compile(text: str, path: Path) -> tuple[object | None, list[ErrorBody]]:
    from dteg.spec.phases import compile_spec

    try:
        return compile_spec(path, text=text), []
    except DtegError as exc:
        return None, [relative_to(error_body(exc), path.parent)]


@router.post("/validate", response_model=ValidateResult,
             summary="Check a pipeline file without saving it")
def validate(body: ValidateRequest, ctx: Context,
             _: str = requires("pipelines.validate")) -> ValidateResult:
    from dteg.spec.plan import as_dict

    # Relative paths in the file are read from the served folder, as if it were saved there.
    name = Path(body.filename).name or "pipeline.yaml"
    spec, errors = _compile(body.yaml, ctx.pipelines_dir / name)
    if spec is None:
        return ValidateResult(valid=False, errors=errors)
    return ValidateResult(valid=True, pipeline=spec.name,  # type: ignore[attr-defined]
                          warnings=list(spec.warnings),  # type: ignore[attr-defined]
                          plan=as_dict(spec))  # type: ignore[arg-type]


@router.get("/{name}", response_model=PipelineDetail, summary="One pipeline: file, plan, graph")
def get_pipeline(name: Name, request: Request, ctx: Context,
                 _: str = requires("pipelines.read")) -> PipelineDetail:
    from dteg.spec.plan import as_dict

    revision = revision_of(ctx, name)
    summary = summary_of(ctx, revision, request)
    return PipelineDetail(**summary.model_dump(), yaml=revision.yaml_text,
                          plan=as_dict(revision.spec), graph=step_graph(revision.spec),
                          warnings=list(revision.spec.warnings))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@router.put("/{name}", response_model=RevisionResult, responses=CONFLICT,
            summary="Create or update a pipeline file (checked first, like dteg validate)")
def save_revision(name: Name, body: RevisionRequest, ctx: Context,
                  _: str = requires("pipelines.write")) -> RevisionResult:
    existing = ctx.current_catalog().get(name)
    path = existing.path if existing is not None else ctx.pipelines_dir / f"{name}.yaml"
    if existing is None and path.exists():
        raise ApiError(409, "conflict", f"{path.name} exists but does not serve `{name}`",
                       hint="Fix that file (GET /api/v1/pipelines lists its error) or use "
                       "another pipeline name.")
    spec, errors = _compile(body.yaml, path)
    if spec is None:
        raise _invalid(errors)
    if spec.name != name:  # type: ignore[attr-defined]
        raise ApiError(422, "name_mismatch",
                       f"the file's pipeline.name is `{spec.name}`, "  # type: ignore[attr-defined]
                       f"the URL names `{name}`",
                       hint="PUT it to /api/v1/pipelines/<its pipeline.name>.")
    digest = sha256_text(body.yaml)
    changed = existing is None or existing.sha256 != digest
    if changed:
        _write_atomically(path, body.yaml)
    ctx.current_catalog(force=True)
    return RevisionResult(pipeline=name, file=relative_file(path, ctx.pipelines_dir),
                          revision=digest, created=existing is None, changed=changed)


def _invalid(errors: list[ErrorBody]) -> ApiError:
    first = errors[0]
    return ApiError(422, first.type, first.message, first.hint, body=first)


def _set_paused(ctx: ServerContext, name: str, paused: bool, request: Request
                ) -> PipelineSummary:
    revision = revision_of(ctx, name)
    if not ctx.store.set_paused(name, paused, ctx.clock()):
        raise not_found(f"pipeline `{name}` in the store",
                        hint="The server records a pipeline a few seconds after it reads "
                        "its file; try again.")
    return summary_of(ctx, revision, request)


@router.post("/{name}/pause", response_model=PipelineSummary,
             summary="Stop scheduling a pipeline")
def pause(name: Name, request: Request, ctx: Context, _: str = requires("pipelines.pause")
          ) -> PipelineSummary:
    return _set_paused(ctx, name, True, request)


@router.post("/{name}/resume", response_model=PipelineSummary,
             summary="Schedule a paused pipeline again")
def resume(name: Name, request: Request, ctx: Context, _: str = requires("pipelines.pause")
           ) -> PipelineSummary:
    return _set_paused(ctx, name, False, request)


@router.post("/{name}/runs", response_model=Run, status_code=201, summary="Run now")
def trigger(name: Name, ctx: Context, body: TriggerRequest | None = None,
            _: str = requires("runs.trigger")) -> Run:
    revision = revision_of(ctx, name)
    run = queue_run(ctx.store, revision, kind="manual", now=ctx.clock(),
                    params=dict(body.params) if body else None)
    assert run is not None  # a fresh run id never collides
    return run_model(run)


@router.post("/{name}/backfills", response_model=BackfillResult, status_code=201,
             summary="Queue a backfill: one run per partition of a cursor range")
def backfill(name: Name, body: BackfillRequest, ctx: Context,
             _: str = requires("runs.trigger")) -> BackfillResult:
    from dteg.orchestrator.backfill import queue_backfill
    from dteg.run.backfill import plan_backfill

    revision = revision_of(ctx, name)
    plan = plan_backfill(revision.spec, body.start, body.end, body.step, body.restart)
    queued = queue_backfill(ctx.store, revision.spec, plan, ctx.clock())
    return BackfillResult(pipeline=name, backfill=plan.id, description=plan.describe(),
                          partitions=len(plan.partitions), done_before=len(plan.done),
                          queued=[brief(r) for r in queued.queued],
                          already_queued=queued.already_queued)


@router.get("/{name}/schedule", response_model=ScheduleTimes,
            summary="The next fire times of a pipeline's schedule")
def schedule(name: Name, ctx: Context,
             count: Annotated[int, Query(ge=1, le=100)] = 10,
             _: str = requires("pipelines.read")) -> ScheduleTimes:
    revision = revision_of(ctx, name)
    row = ctx.store.pipeline(name)
    spec, cron = revision.schedule, revision.cron_schedule
    times = []
    if spec is not None and cron is not None:
        moment = ctx.clock()
        for _i in range(count):
            upcoming = next_tick(cron, spec, moment)
            if upcoming is None:
                break
            times.append(upcoming)
            moment = upcoming
    return ScheduleTimes(pipeline=name, schedule=spec.cron if spec else None,
                         timezone=spec.timezone if spec else None,
                         paused=bool(row.paused) if row else bool(spec and spec.paused),
                         next=times)
