"""The FastAPI app of ``dteg server``: ``/api/v1`` (one router per resource), ``/metrics``
and ``/healthz`` for Prometheus, and the web UI at ``/``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Response

from dteg.server import errors
from dteg.server.context import ServerContext
from dteg.server.routes import health, lineage, overview, pipelines, quality, runs
from dteg.server.ui import mount_ui
from dteg.version import __version__

API_PREFIX = "/api/v1"
DESCRIPTION = (
    "The pipelines a dteg server serves, their runs, logs (paged, or live over Server-Sent "
    "Events), schedules, quality results, datasets and lineage. Errors are JSON: "
    '`{"error": {"type", "message", "file", "line", "step", "hint"}}`.')


class ServerTiming:
    """Adds ``Server-Timing: app;dur=<ms>`` to every response (time to the first byte)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                message.setdefault("headers", []).append(
                    (b"server-timing", f"app;dur={elapsed:.2f}".encode()))
            await send(message)

        await self.app(scope, receive, timed_send)


def create_app(ctx: ServerContext) -> FastAPI:
    app = FastAPI(title="dteg", version=__version__, description=DESCRIPTION,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs",
                  redoc_url=None)
    app.state.dteg = ctx
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX, responses={
        422: {"model": errors.ErrorResponse, "description": "Invalid request or pipeline"},
        404: {"model": errors.ErrorResponse, "description": "Not found"}})
    for module in (health, overview, pipelines, quality, runs, lineage):
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        if ctx.metrics_render is None:
            return Response("no metrics in this process\n", status_code=404,
                            media_type="text/plain")
        body, content_type = ctx.metrics_render()
        return Response(body, media_type=content_type)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        ok = ctx.scheduler_healthy is None or ctx.scheduler_healthy()
        return Response("ok\n" if ok else "unhealthy\n", status_code=200 if ok else 503,
                        media_type="text/plain")

    mount_ui(app, ctx.ui_dir)
    app.add_middleware(ServerTiming)
    return app
