"""Kafka sources in a bounded run (``dteg run``, a scheduled batch): the offsets are fixed
before Beam starts (from the consumer group's committed offsets, or ``start:``, up to
``until:`` — default: the ends of the partitions now) and committed to the group only after
every sink has committed, so the next run reads on from there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dteg.spec.models import PipelineSpec


def prepare_offsets(spec: PipelineSpec, run_id: str) -> tuple[PipelineSpec, Callable[[], None]]:
    """The spec to run (its Kafka sources read the planned ranges) and the function to call once
    every sink committed. A pipeline without Kafka sources comes back unchanged."""
    steps = [s for s in spec.sources() if s.component == "kafka"]
    if not steps:
        return spec, lambda: None
    from dteg.connectors.kafka.config import SourceConfig
    from dteg.connectors.kafka.offsets import OffsetPlanner, default_group
    from dteg.connectors.kafka.source import PLAN

    overrides: dict[str, Any] = dict(spec.run_overrides)
    planners: list[tuple[OffsetPlanner, dict[tuple[str, int], int]]] = []
    try:
        for step in steps:
            config = SourceConfig.model_validate(step.config)
            planner = OffsetPlanner(config, step=step.name,
                                    group=config.group_id or default_group(spec.name, step.name))
            planners.append((planner, {}))
            planner.connect()
            planner.resolve_until(bounded=True)
            plan = planner.plan(None)
            planners[-1] = (planner, plan.ends())
            # Inline, so the ranges reach workers on any runner with the graph.
            overrides[step.name] = {**overrides.get(step.name, {}),
                                    PLAN: [r.to_json() for r in plan.ranges]}
    except BaseException:
        for planner, _ in planners:
            planner.close()
        raise

    def commit() -> None:
        try:
            for planner, ends in planners:
                planner.commit(ends)
        finally:
            for planner, _ in planners:
                planner.close()

    return spec.model_copy(update={"run_overrides": overrides}), commit
