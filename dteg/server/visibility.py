"""What a list shows a caller: only the pipelines (and their runs, datasets, alerts) their
roles cover — restricted pipelines only through a role scoped to them."""

from __future__ import annotations

from fastapi import Request

from dteg.auth.rbac import Resource, authorize
from dteg.server.access import principal_of, resource_of
from dteg.server.context import ServerContext

# What a pipeline's row in a list says the caller may do with it (the UI hides the rest).
PIPELINE_ACTIONS = ("pipelines.write", "pipelines.pause", "runs.trigger", "runs.cancel",
                    "dead_letters.read")


def _resource(ctx: ServerContext, name: str) -> Resource:
    revision = ctx.catalog.get(name)
    return Resource(name, revision.spec.body.security.access_level if revision else None)


def visible_pipelines(request: Request, ctx: ServerContext, action: str
                      ) -> frozenset[str] | None:
    """The pipelines the caller may ``action``; None when that is every one (runs of
    pipelines whose files are gone included)."""
    if ctx.auth is None:
        return None
    principal = principal_of(request)
    roles = ctx.auth.roles()
    names = list(ctx.catalog.revisions)
    allowed = frozenset(n for n in names
                        if authorize(principal, action, _resource(ctx, n), roles))
    everywhere = any(b.scope == "*" and action in roles.permissions(b.role)
                     for b in principal.bindings)
    return None if everywhere and len(allowed) == len(names) else allowed


def permissions_on(request: Request, ctx: ServerContext, name: str) -> list[str]:
    if ctx.auth is None:
        return list(PIPELINE_ACTIONS)
    principal, roles, resource = principal_of(request), ctx.auth.roles(), _resource(ctx, name)
    return [a for a in PIPELINE_ACTIONS if authorize(principal, a, resource, roles)]


__all__ = ["permissions_on", "resource_of", "visible_pipelines"]
