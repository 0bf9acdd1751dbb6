"""/api/v1/health (the process answers) and /api/v1/ready (the store answers, the scheduler
loop runs, the UI is there)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.models import Health, Readiness
from dteg.version import __version__

router = APIRouter(tags=["health"])
Context = Annotated[ServerContext, Depends(context)]


@router.get("/health", response_model=Health, summary="Liveness")
def health(_: str = requires("health.read", public=True)) -> Health:
    return Health(status="ok", version=__version__)


def _store_answers(ctx: ServerContext) -> bool:
    try:
        with ctx.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/ready", response_model=Readiness, summary="Readiness (503 when not ready)",
            responses={503: {"model": Readiness}})
def ready(ctx: Context, _: str = requires("health.read")) -> JSONResponse:
    store_ok = _store_answers(ctx)
    scheduler = ctx.scheduler_healthy() if ctx.scheduler_healthy is not None else None
    ui = ctx.ui_dir is not None and (ctx.ui_dir / "index.html").is_file()
    answer = Readiness(ready=store_ok and scheduler is not False, store=store_ok,
                       scheduler=scheduler, ui=ui)
    return JSONResponse(answer.model_dump(), status_code=200 if answer.ready else 503)
