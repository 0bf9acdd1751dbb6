"""The action each route needs. Every route declares one with ``requires(action)``; the
route test checks that none is missing. Authentication and role checks (issue #15) decide on
these actions in one place; until then the server binds 127.0.0.1 and allows every action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

# What a caller may do, by resource. Mutations are the actions an audit log records.
ACTIONS: dict[str, str] = {
    "pipelines.read": "list and read pipelines, their plans and schedules",
    "pipelines.validate": "check a pipeline file without saving it",
    "pipelines.write": "create or change a pipeline file",
    "pipelines.pause": "pause or resume a pipeline's schedule",
    "runs.read": "list and read runs, their counts and logs",
    "runs.trigger": "start a run or a backfill, retry a run",
    "runs.cancel": "cancel a run",
    "dead_letters.read": "read a sample of a run's dead-lettered records",
    "lineage.read": "read datasets, lineage and schema history",
    "alerts.read": "read the alert history",
    "health.read": "liveness and readiness",
}
MUTATING = frozenset({"pipelines.write", "pipelines.pause", "runs.trigger", "runs.cancel"})


def requires(action: str) -> Any:
    """A route dependency that names the action the route performs."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}: add it to ACTIONS")

    def _check(request: Request) -> str:
        request.state.action = action
        return action

    _check.dteg_action = action  # type: ignore[attr-defined]
    return Depends(_check)


def action_of(dependency: Callable[..., Any]) -> str | None:
    return getattr(dependency, "dteg_action", None)
