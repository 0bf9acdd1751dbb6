"""The embedded default: Beam's FnApiRunner in this process, no server.

The plain DirectRunner first tries to download Prism (fails offline), and its
multi-threaded mode lost records in our tests, so bounded runs use the FnApiRunner directly.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from dteg.beam.compiler import DtegPipeline, dead_letter_target
from dteg.components.plan import RunPlan
from dteg.components.records import DEAD_LETTER_STEP
from dteg.quality.report import dteg_counters, quality_report
from dteg.run.report import RunReport, StepCounts
from dteg.spec.models import PipelineSpec

_FIELDS = {"in": "rows_in", "out": "rows_out", "dead_letter": "dead_letter",
           "filtered": "filtered", "loaded": "loaded"}


def run(spec: PipelineSpec, plan: RunPlan, *, options: dict[str, Any] | None = None,
        debug: bool = False, runner: Any = None, runner_name: str = "direct") -> RunReport:
    """Run the compiled pipeline to completion. ``runner`` defaults to the in-process
    FnApiRunner; the Flink launcher passes Beam's portable FlinkRunner with its options."""
    started = time.perf_counter()
    # Beam logs each failing bundle with a traceback; dteg reports the error itself.
    logging.getLogger("apache_beam").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    composite = DtegPipeline(spec, plan)
    pipeline_options = PipelineOptions(flags=[], **(options or {}))
    with_runner = beam.Pipeline(runner=runner or FnApiRunner(), options=pipeline_options)
    _ = with_runner | composite
    try:
        result = with_runner.run()
        result.wait_until_finish()
    except BaseException:
        abort_staged(spec, composite)
        raise
    counts = collect_counts(result, spec)
    dl = dead_letter_target(spec, plan.run_id, composite.registry)
    stored = counts.pop(DEAD_LETTER_STEP, StepCounts(DEAD_LETTER_STEP, "dead_letter")).loaded
    targets = {s.name: composite.writer(s).describe() for s in spec.steps if s.is_sink}
    quality = quality_report(spec, dteg_counters(result))
    return RunReport(
        pipeline=spec.name, run_id=plan.run_id, runner=runner_name,
        seconds=time.perf_counter() - started,
        steps=[counts.get(s.name, StepCounts(s.name, s.kind)) for s in spec.steps
               if not s.runs_after_load],
        dead_letter_target=dl.describe(composite.context(DEAD_LETTER_STEP)),
        dead_lettered_stored=stored, targets=targets,
        quality=quality.to_dict() if quality else None,
    )


def abort_staged(spec: PipelineSpec, composite: DtegPipeline) -> None:
    """Drop a failed run's staged parts (committed targets were not touched), its dead
    letters' too."""
    for step in spec.steps:
        if step.is_sink:
            with contextlib.suppress(Exception):
                composite.writer(step).abort([])
    with contextlib.suppress(Exception):
        composite.dead_letter_writer().abort([])


def collect_counts(result: Any, spec: PipelineSpec) -> dict[str, StepCounts]:
    kinds = {s.name: s.kind for s in spec.steps}
    counts: dict[str, StepCounts] = {}
    for counter in result.metrics().query()["counters"]:
        if counter.key.metric.namespace != "dteg":
            continue
        step, _, what = counter.key.metric.name.rpartition(":")
        entry = counts.setdefault(step, StepCounts(step, kinds.get(step, "dead_letter")))
        field = _FIELDS.get(what)
        if field:
            setattr(entry, field, getattr(entry, field) + (counter.committed or 0))
    return counts
