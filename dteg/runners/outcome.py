"""What a finished run of the embedded runner reports, whichever way it ran (the FnApiRunner,
``dteg.runners.direct``, or in-process, ``dteg.runners.inprocess``); no Beam here."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from dteg.components.plan import RunPlan
from dteg.quality.report import quality_report
from dteg.run.report import RunReport, StepCounts
from dteg.spec.models import PipelineSpec

if TYPE_CHECKING:
    from dteg.beam.graph import StepResolver

_FIELDS = {"in": "rows_in", "out": "rows_out", "dead_letter": "dead_letter",
           "filtered": "filtered", "loaded": "loaded"}


def build_report(spec: PipelineSpec, plan: RunPlan, composite: StepResolver | Any,
                 counts: dict[str, StepCounts], counters: dict[str, int], runner_name: str,
                 seconds: float) -> RunReport:
    """The report of a finished run: per-step counts (the dead-letter sink apart), targets,
    where dead letters went and the quality results."""
    dead_sink = spec.dead_letter_sink()
    stored = counts.pop(dead_sink.name, StepCounts(dead_sink.name, "load")).loaded \
        if dead_sink is not None else 0
    quality = quality_report(spec, counters)
    return RunReport(
        pipeline=spec.name, run_id=plan.run_id, runner=runner_name, seconds=seconds,
        steps=[counts.get(s.name, StepCounts(s.name, s.kind)) for s in spec.steps
               if not s.runs_after_load and not s.is_dead_letter_sink],
        dead_letter_target=composite.dead_letter_writer().describe() if dead_sink else "",
        dead_lettered_stored=stored,
        targets={s.name: composite.writer(s).describe() for s in spec.sinks()},
        quality=quality.to_dict() if quality else None,
    )


def abort_staged(spec: PipelineSpec, composite: StepResolver | Any) -> None:
    """Drop a failed run's staged parts (committed targets were not touched), its dead
    letters' too."""
    for step in spec.steps:
        if step.is_sink:  # the dead-letter sink too: a failed run's dead letters do not land
            with contextlib.suppress(Exception):
                composite.writer(step).abort([])


def step_counts(counters: dict[str, int], spec: PipelineSpec) -> dict[str, StepCounts]:
    """Per-step counts from dteg's counters (``<step>:in``, ``<step>:out``, …)."""
    kinds = {s.name: s.kind for s in spec.steps}
    counts: dict[str, StepCounts] = {}
    for name, value in counters.items():
        step, _, what = name.rpartition(":")
        entry = counts.setdefault(step, StepCounts(step, kinds.get(step, "dead_letter")))
        field = _FIELDS.get(what)
        if field:
            setattr(entry, field, getattr(entry, field) + value)
    return counts
