"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from dteg.orchestrator.catalog import Revision
from dteg.server.context import ServerContext
from dteg.server.errors import not_found


def context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.dteg
    return ctx


def revision_of(ctx: ServerContext, name: str) -> Revision:
    revision = ctx.current_catalog().get(name)
    if revision is None:
        raise not_found(f"pipeline `{name}`", hint="GET /api/v1/pipelines lists the "
                        "pipelines this server serves.")
    return revision
