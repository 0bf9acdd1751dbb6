"""Unbounded sources in a bounded run (``dteg run``, a scheduled batch, a backfill): their
offsets are fixed before Beam starts by the planner their component declares
(``Capabilities.offset_planner``) — from the committed position up to the configured end, or
the end now — and committed only after every sink committed, so the next run reads on."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dteg.components.contracts import OffsetPlan, OffsetPlanner
from dteg.components.plan import RunPlan
from dteg.components.registry import import_ref
from dteg.spec.models import PipelineSpec, StepSpec


def create_planner(spec: PipelineSpec, step: StepSpec) -> OffsetPlanner:
    """The offset planner of an unbounded source step."""
    ref = step.capabilities.offset_planner
    if ref is None:
        raise ValueError(f"{step.where()} declares no offset planner")
    factory: Any = import_ref(ref, extra=step.capabilities.extra)
    extra: dict[str, Any] = {}
    if "state_dir" in inspect.signature(factory).parameters:
        # A planner that keeps local state of its own (the CDC snapshot marker).
        extra["state_dir"] = spec.state_dir
    planner: OffsetPlanner = factory(step.validated(), pipeline=spec.name, step=step.name,
                                     **extra)
    return planner


def plan_offsets(spec: PipelineSpec, plan: RunPlan) -> tuple[RunPlan, Callable[[], None]]:
    """The plan with each unbounded source's ranges, and the function that commits them once
    every sink committed. A pipeline without unbounded sources comes back unchanged."""
    steps = [s for s in spec.sources() if s.capabilities.unbounded]
    if not steps:
        return plan, lambda: None
    planned: list[tuple[OffsetPlanner, OffsetPlan]] = []
    opened: list[OffsetPlanner] = []
    try:
        for step in steps:
            planner = create_planner(spec, step)
            opened.append(planner)
            planner.connect()
            planner.resolve_until(bounded=True)
            offsets = planner.plan(None)
            planned.append((planner, offsets))
            # Inline, so the ranges reach workers on any runner with the graph.
            plan = plan.with_step(step.name, offset_ranges=tuple(offsets.ranges_json()))
    except BaseException:
        for planner in opened:
            planner.close()
        raise

    def commit() -> None:
        try:
            for planner, offsets in planned:
                planner.commit(offsets)
        finally:
            for planner in opened:
                planner.close()

    return plan, commit
