"""Writes the audit log for the API: every mutating request, every refused one (401, 403)
and every read of sensitive data — who, what, which resource, when, from which address, and
how it ended. An ASGI middleware: it sees the status code the route answered with and what
``requires`` decided (``request.state``)."""

from __future__ import annotations

import logging
from typing import Any

from dteg.server.access import MUTATING, SENSITIVE

log = logging.getLogger("dteg.server")


def _resource(state: dict[str, Any], path_params: dict[str, Any]) -> str:
    if "run_id" in path_params:
        return f"run:{path_params['run_id']}"
    resource = state.get("resource")
    if resource is not None and resource.pipeline:
        return f"pipeline:{resource.pipeline}"
    for key in ("name", "user", "token_id", "role"):
        if key in path_params:
            return f"{key}:{path_params[key]}"
    return "server"


class AuditTrail:
    def __init__(self, app: Any, context: Any) -> None:
        self.app, self.context = app, context

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.context.auth is None:
            await self.app(scope, receive, send)
            return
        status: dict[str, int] = {}

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._record(scope, status.get("code", 500))

    def _record(self, scope: Any, code: int) -> None:
        state = scope.get("state") or {}
        action = state.get("action")
        if action is None or action.startswith(("health", "auth.")):  # sign-in: its own
            return
        refused = code in (401, 403)
        if not (refused or action in MUTATING or action in SENSITIVE):
            return
        principal = state.get("principal")
        actor = (f"{principal.kind}:{principal.name}" if principal is not None
                 else "anonymous")
        result = ("denied" if refused else "succeeded" if code < 400 else "failed")
        client = scope.get("client")
        try:
            self.context.auth.audit.append(
                actor=actor, action=action, resource=_resource(state, scope.get(
                    "path_params") or {}), result=result, at=self.context.clock(),
                address=client[0] if client else None, status=code,
                detail={"method": scope.get("method"), "path": scope.get("path")})
        except Exception as exc:  # the store is down: say so, never fail the answer
            log.error("could not write the audit log: %s", exc)
