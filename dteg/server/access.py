"""Every route declares the action it performs with ``requires(action)``; this dependency
authenticates the caller (a bearer token — an access token or an API token — or the web UI's
session cookie), finds the resource (the pipeline of a ``{name}`` or ``{run_id}`` path
parameter), and asks ``dteg.auth.rbac.authorize`` — the one place that decides. What it
decided is left on ``request.state`` for the audit trail (``dteg.server.audit_trail``).

A route test checks that every route declares exactly one action. ``public=True`` marks the
few that must answer without a token (health, sign-in, the JWKS)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from dteg.auth.rbac import (
    PERMISSIONS,
    PUBLIC_ACTIONS,
    SERVER,
    Binding,
    Principal,
    Resource,
    Roles,
    authorize,
)
from dteg.server.errors import ApiError

ACTIONS = PERMISSIONS
MUTATING = frozenset({"pipelines.write", "pipelines.pause", "runs.trigger", "runs.cancel",
                      "users.manage", "tokens.manage", "roles.manage", "keys.manage",
                      "privacy.erase"})
# Reads of values a source held: audited even when allowed.
SENSITIVE = frozenset({"dead_letters.read", "audit.read", "marketplace.organisation"})
ACCESS_COOKIE = "dteg_access"
REFRESH_COOKIE = "dteg_refresh"
CSRF_HEADER = "x-requested-with"
# With authentication off (loopback only): everyone is an admin.
LOCAL_ADMIN = Principal("user", "local", "local", (Binding("admin", "*"),))


def _credential(request: Request) -> tuple[str | None, bool]:
    """(the credential, whether it came from the session cookie)."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None, False
    cookie = request.cookies.get(ACCESS_COOKIE)
    return (cookie, True) if cookie else (None, False)


def principal_of(request: Request) -> Principal:
    """The caller, authenticated (401 when not)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    ctx = request.app.state.dteg
    roles = None
    if ctx.auth is None:
        principal = LOCAL_ADMIN
    else:
        from dteg.auth.service import AuthError

        credential, from_cookie = _credential(request)
        if credential is None:
            raise ApiError(401, "unauthenticated", "sign in first: this route needs a token",
                           hint="Send `Authorization: Bearer <token>` (POST "
                           "/api/v1/auth/token, or `dteg login`), or sign in to the web UI.")
        if from_cookie and request.method not in ("GET", "HEAD", "OPTIONS") and \
                not request.headers.get(CSRF_HEADER):
            raise ApiError(403, "forbidden", "a change made with the session cookie needs the "
                           f"`{CSRF_HEADER}` header", hint="The web UI sends it; scripts "
                           "should send a bearer token instead.")
        try:
            principal, roles = ctx.auth.identify(credential)
        except AuthError as exc:
            raise ApiError(401, "unauthenticated", str(exc),
                           hint="Sign in again (POST /api/v1/auth/token or `dteg login`).") \
                from None
    request.state.principal = principal
    request.state.roles = roles
    return principal


def roles_of(request: Request) -> Roles | None:
    """The roles the caller's decisions use (read with the caller)."""
    principal_of(request)
    return getattr(request.state, "roles", None)


def resource_of(request: Request) -> Resource:
    ctx = request.app.state.dteg
    params = request.path_params
    pipeline = params.get("name")
    if pipeline is None and "run_id" in params:
        run = ctx.store.run(params["run_id"])
        pipeline = run.pipeline if run is not None else None
    if pipeline is None:
        return SERVER
    revision = ctx.catalog.get(pipeline)
    level = revision.spec.body.security.access_level if revision is not None else None
    return Resource(pipeline, level)


def requires(action: str, public: bool = False) -> Any:
    """A route dependency: ``action`` on the route's resource, or 401/403."""
    if action not in (PUBLIC_ACTIONS if public else ACTIONS) and not (
            public and action in ACTIONS):
        raise KeyError(f"unknown action {action!r}: add it to dteg.auth.rbac.PERMISSIONS")

    def _check(request: Request) -> str:
        request.state.action = action
        if public:
            return action
        principal = principal_of(request)
        resource = resource_of(request)
        request.state.resource = resource
        decision = authorize(principal, action, resource, roles_of(request))
        request.state.decision = decision
        if not decision.allowed:
            raise ApiError(403, "forbidden", f"not allowed: {decision.reason}",
                           hint="Ask an admin for a role with this permission.")
        return action

    _check.dteg_action = action  # type: ignore[attr-defined]
    _check.dteg_public = public  # type: ignore[attr-defined]
    return Depends(_check)


def action_of(dependency: Callable[..., Any] | None) -> str | None:
    return getattr(dependency, "dteg_action", None)


@dataclass(frozen=True)
class DeclaredRoute:
    methods: frozenset[str]
    path: str
    actions: tuple[str, ...]  # the actions its parameters require (one, when declared)
    public: bool = False

    @property
    def mutates(self) -> bool:
        return bool(self.methods & {"POST", "PUT", "PATCH", "DELETE"})


def declared_routes(app: Any) -> list[DeclaredRoute]:
    """Every route of ``app`` with a path and methods, with the actions it declares."""
    try:  # FastAPI >= 0.16x keeps included routers nested
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    found = []
    for route in routes:
        endpoint, path, methods = (getattr(route, "endpoint", None), route.path,
                                   route.methods)
        if endpoint is None or not path or not methods:
            continue
        checks = [getattr(parameter.default, "dependency", None)
                  for parameter in inspect.signature(endpoint).parameters.values()]
        checks = [c for c in checks if action_of(c)]
        found.append(DeclaredRoute(frozenset(methods), path,
                                   tuple(action_of(c) or "" for c in checks),
                                   any(getattr(c, "dteg_public", False) for c in checks)))
    return found
