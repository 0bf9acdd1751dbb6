"""What a list shows a caller: only the pipelines (and their runs, datasets, alerts) their
roles cover — restricted pipelines only through a role scoped to them."""

from __future__ import annotations

from fnmatch import fnmatchcase

from fastapi import Request

from dteg.auth.rbac import Resource, Roles, authorize
from dteg.orchestrator.store.reads import PipelineScope
from dteg.server.access import principal_of, resource_of, roles_of
from dteg.server.context import ServerContext

# What a pipeline's row in a list says the caller may do with it (the UI hides the rest).
PIPELINE_ACTIONS = ("pipelines.write", "pipelines.pause", "runs.trigger", "runs.cancel",
                    "dead_letters.read")


def _resource(ctx: ServerContext, name: str) -> Resource:
    revision = ctx.catalog.get(name)
    return Resource(name, revision.spec.body.security.access_level if revision else None)


def visible_pipelines(request: Request, ctx: ServerContext, action: str
                      ) -> frozenset[str] | None:
    """The served pipelines the caller may ``action``; None when that is every one."""
    if ctx.auth is None:
        return None
    principal = principal_of(request)
    roles = roles_of(request) or Roles()
    names = list(ctx.catalog.revisions)
    allowed = frozenset(n for n in names
                        if authorize(principal, action, _resource(ctx, n), roles))
    everywhere = any(b.scope == "*" and action in roles.permissions(b.role)
                     for b in principal.bindings)
    return None if everywhere and len(allowed) == len(names) else allowed


def visible_scope(request: Request, ctx: ServerContext, action: str) -> PipelineScope | None:
    """What a list of runs may hold, as a filter the store checks in SQL: the caller's
    scopes as name patterns, minus every served pipeline ``authorize`` refuses (restricted
    ones, or ones a pattern would match only case-insensitively). None: everything."""
    if ctx.auth is None:
        return None
    principal = principal_of(request)
    roles = roles_of(request) or Roles()
    names = list(ctx.catalog.revisions)
    refused = frozenset(n for n in names
                        if not authorize(principal, action, _resource(ctx, n), roles))
    patterns: list[str] = []
    for binding in principal.bindings:
        if action not in roles.permissions(binding.role):
            continue
        if binding.scope.startswith("namespace:"):
            patterns.append(binding.scope[len("namespace:"):] + ".*")
        elif "[" in binding.scope:  # a class fnmatch has and LIKE lacks: the served names
            patterns.extend(n for n in names if fnmatchcase(n, binding.scope))
        else:
            patterns.append(binding.scope)
    if "*" in patterns and not refused:
        return None
    return PipelineScope(patterns=tuple(dict.fromkeys(patterns)), excluded=refused)


def permissions_on(request: Request, ctx: ServerContext, name: str) -> list[str]:
    if ctx.auth is None:
        return list(PIPELINE_ACTIONS)
    principal, roles, resource = principal_of(request), roles_of(request), _resource(ctx, name)
    return [a for a in PIPELINE_ACTIONS if authorize(principal, a, resource, roles)]


__all__ = ["permissions_on", "resource_of", "visible_pipelines", "visible_scope"]
