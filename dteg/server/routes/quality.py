"""/api/v1/pipelines/{name}/quality: validation rule results over time."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam

from dteg.orchestrator.store.reads import QualityPoint
from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.deps import context, revision_of
from dteg.server.models import QualityHistory, RulePoint

router = APIRouter(prefix="/pipelines", tags=["quality"])
Context = Annotated[ServerContext, Depends(context)]


def rule_points(point: QualityPoint) -> list[RulePoint]:
    found = []
    for step in point.result.get("steps") or []:
        rows = int(step.get("rows") or 0)
        for rule in step.get("rules") or []:
            failed = int(rule.get("failed") or 0)
            found.append(RulePoint(run_id=point.run_id, at=point.at, step=str(step.get("step")),
                                   rule=str(rule.get("rule") or rule.get("type")),
                                   failed=failed, rows=rows, ratio=_ratio(rule, failed, rows),
                                   passed=failed == 0))
    return found


def _ratio(rule: dict[str, Any], failed: int, rows: int) -> float | None:
    ratio = rule.get("ratio")
    if isinstance(ratio, int | float):
        return float(ratio)
    return failed / rows if rows else None


@router.get("/{name}/quality", response_model=QualityHistory,
            summary="Each validation rule's results per run, oldest first")
def quality(name: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=200)],
            ctx: Context, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
            _: str = requires("pipelines.read")) -> QualityHistory:
    revision_of(ctx, name)
    points = [p for point in ctx.store.quality_history(name, limit) for p in rule_points(point)]
    return QualityHistory(pipeline=name, points=points)
