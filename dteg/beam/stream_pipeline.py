"""The pipeline as one unbounded Beam graph (``dteg stream --runner prism``): the same
compiled stages as every other run (``DtegPipeline``), with unbounded sources read by the
splittable DoFn of ``dteg.beam.unbounded`` and sinks that commit once per bundle.

Each sink writes one part per bundle and commits it in ``finish_bundle`` with its own
two-phase writer (``_StreamWrite`` without limits). Bundles run in parallel (one per
partition poll), so each bundle's writer gets its own run id (``<run>-b<id>``: its own
staging folder, table or spool, which its commit or abort removes without touching another
bundle's), and the commits of one sink take turns (a process-wide lock per step: DuckDB
and SQL merges into one table would otherwise conflict). A bundle is retried whole by the
runner:
a merge sink upserts the same keys again (exactly once in effect); an append sink may hold a
retried bundle's rows twice (at-least-once), as on the micro-batch path."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import Any

import apache_beam as beam

from dteg.beam.compiler import DtegPipeline
from dteg.beam.io import _Built, _StreamWrite
from dteg.beam.unbounded import StartAt, UnboundedRead
from dteg.components.contracts import RunContext
from dteg.components.registry import ComponentInfo
from dteg.components.settings import StreamLimits
from dteg.spec.models import PipelineSpec, StepSpec

PER_BUNDLE = StreamLimits(rows=None, bytes=None, seconds=None)


_COMMIT_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _commit_lock(step: str) -> threading.Lock:
    with _LOCKS_LOCK:
        return _COMMIT_LOCKS.setdefault(step, threading.Lock())


class _BundleWrite(_StreamWrite):
    def start_bundle(self) -> None:
        super().start_bundle()
        ctx = self.built.ctx
        bundle_ctx = dataclasses.replace(ctx, run_id=f"{ctx.run_id}-b{uuid.uuid4().hex[:10]}")
        self.writer = self.built.info.build(self.built.settings, bundle_ctx)

    def _flush(self):
        with _commit_lock(self.built.ctx.step):
            results = list(super()._flush())
        yield from results


class BundleCommits(beam.PTransform):
    """A sink committing each bundle's rows (fused with the stage that produced them)."""

    def __init__(self, info: ComponentInfo, settings: Any, ctx: RunContext) -> None:
        super().__init__()
        self.built = _Built(info, settings, ctx)

    def expand(self, inputs):
        if isinstance(inputs, beam.pvalue.PCollection):
            inputs = (inputs,)
        commits = [pcoll | f"Commit{'' if i == 0 else i}" >> beam.ParDo(
            _BundleWrite(self.built, PER_BUNDLE)) for i, pcoll in enumerate(inputs)]
        return commits[0] if len(commits) == 1 else commits | "Commits" >> beam.Flatten()


class UnboundedPipeline(DtegPipeline):
    def __init__(self, spec: PipelineSpec, plan: Any, starts: dict[str, list[StartAt]],
                 max_records: dict[str, int]) -> None:
        super().__init__(spec, plan)
        self.starts = starts
        self.max_records = max_records

    def source_transform(self, step: StepSpec, info: ComponentInfo, settings: Any,
                         ctx: RunContext) -> beam.PTransform:
        return UnboundedRead(info, settings, ctx, self.starts[step.name],
                             self.max_records[step.name])

    def sink_transform(self, step: StepSpec, ctx: RunContext, gate: Any) -> beam.PTransform:
        return BundleCommits(self.info(step), step.validated(), ctx)
