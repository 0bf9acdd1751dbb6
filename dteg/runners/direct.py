"""The embedded default: Beam's FnApiRunner in this process, no server.

The plain DirectRunner first tries to download Prism (fails offline), and its
multi-threaded mode lost records in our tests, so bounded runs use the FnApiRunner directly.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from dteg.components.plan import RunPlan
from dteg.quality.report import dteg_counters
from dteg.run.report import RunReport, StepCounts
from dteg.runners.outcome import abort_staged, build_report, step_counts
from dteg.spec.models import PipelineSpec

__all__ = ["abort_staged", "build_report", "collect_counts", "run", "step_counts"]


def run(spec: PipelineSpec, plan: RunPlan, *, options: dict[str, Any] | None = None,
        debug: bool = False, runner: Any = None, runner_name: str = "direct") -> RunReport:
    """Run the compiled pipeline to completion. ``runner`` defaults to the in-process
    FnApiRunner; the Flink launcher passes Beam's portable FlinkRunner with its options.
    A small bounded run that needs nothing of Beam's (``dteg.runners.inprocess``) runs the
    same components in this process without importing Beam at all."""
    if runner is None and not options:
        from dteg.runners import inprocess

        if inprocess.suitable(spec, plan):
            return inprocess.run(spec, plan, runner_name=runner_name)
    started = time.perf_counter()
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from dteg.beam.compiler import DtegPipeline

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


def collect_counts(result: Any, spec: PipelineSpec) -> dict[str, StepCounts]:
    return step_counts(dteg_counters(result), spec)
