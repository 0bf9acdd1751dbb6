"""The FastAPI app of ``dteg server``: ``/api/v1`` (one router per resource), ``/metrics``
and ``/healthz`` for Prometheus, and the web UI at ``/``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.openapi.utils import get_openapi

from dteg.server import errors
from dteg.server.access import declared_routes, requires
from dteg.server.audit_trail import AuditTrail
from dteg.server.context import ServerContext
from dteg.server.routes import (
    admin,
    auth,
    health,
    lineage,
    overview,
    pipelines,
    quality,
    quality_dashboard,
    runs,
)
from dteg.server.routes import catalog as data_catalog
from dteg.server.routes import marketplace as marketplace_view
from dteg.server.routes import oidc as sso
from dteg.server.routes import privacy as privacy_requests
from dteg.server.ui import mount_ui
from dteg.version import __version__

API_PREFIX = "/api/v1"
DESCRIPTION = (
    "The pipelines a dteg server serves, their runs, logs (paged, or live over Server-Sent "
    "Events), schedules, quality results, datasets and lineage. Errors are JSON: "
    '`{"error": {"type", "message", "file", "line", "step", "hint"}}`. Every route but '
    "health, sign-in and the JWKS needs `Authorization: Bearer <token>` (an access token "
    "from POST /api/v1/auth/token, or an API token).")


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


def _declare_security(app: FastAPI) -> None:
    """The OpenAPI document says how to authenticate, and which routes need none."""
    public = {(method, route.path) for route in declared_routes(app) if route.public
              for method in route.methods}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version,
                              description=app.description, routes=app.routes)
            doc.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An access token (JWT) or an API token"},
                "oauth2": {"type": "oauth2", "flows": {"password": {
                    "tokenUrl": f"{API_PREFIX}/auth/token", "scopes": {}}}}}
            doc["security"] = [{"bearer": []}, {"oauth2": []}]
            for path, operations in doc.get("paths", {}).items():
                for method, operation in operations.items():
                    if (method.upper(), path) in public:
                        operation["security"] = []
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(ctx: ServerContext) -> FastAPI:
    app = FastAPI(title="dteg", version=__version__, description=DESCRIPTION,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs",
                  redoc_url=None)
    app.state.dteg = ctx
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX, responses={
        400: {"model": errors.ErrorResponse, "description": "A body that does not parse"},
        404: {"model": errors.ErrorResponse, "description": "Not found"},
        422: {"model": errors.ErrorResponse, "description": "Invalid request or pipeline"}})
    for module in (health, auth, sso, overview, pipelines, quality, runs, lineage, admin,
                   data_catalog, privacy_requests, marketplace_view, quality_dashboard):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(auth.well_known)

    @app.get("/metrics", include_in_schema=False)
    def metrics(_: str = requires("metrics.read")) -> Response:
        if ctx.metrics_render is None:
            return Response("no metrics in this process\n", status_code=404,
                            media_type="text/plain")
        body, content_type = ctx.metrics_render()
        return Response(body, media_type=content_type)

    @app.get("/healthz", include_in_schema=False)
    def healthz(_: str = requires("health.read", public=True)) -> Response:
        ok = ctx.scheduler_healthy is None or ctx.scheduler_healthy()
        return Response("ok\n" if ok else "unhealthy\n", status_code=200 if ok else 503,
                        media_type="text/plain")

    _declare_security(app)
    mount_ui(app, ctx.ui_dir)
    app.add_middleware(AuditTrail, context=ctx)
    app.add_middleware(ServerTiming)
    return app
