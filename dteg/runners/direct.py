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

from dteg.beam.compiler import DtegPipeline
from dteg.components.plan import RunPlan
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
    return build_report(spec, plan, composite, collect_counts(result, spec),
                        dteg_counters(result), runner_name, time.perf_counter() - started)


def build_report(spec: PipelineSpec, plan: RunPlan, composite: DtegPipeline,
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


def abort_staged(spec: PipelineSpec, composite: DtegPipeline) -> None:
    """Drop a failed run's staged parts (committed targets were not touched), its dead
    letters' too."""
    for step in spec.steps:
        if step.is_sink:  # the dead-letter sink too: a failed run's dead letters do not land
            with contextlib.suppress(Exception):
                composite.writer(step).abort([])


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
