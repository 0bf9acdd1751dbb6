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

from dteg.beam.aggregate import is_window, window_step
from dteg.beam.compiler import DtegPipeline, _downstream
from dteg.beam.io import _Built, _StreamWrite
from dteg.beam.unbounded import StartAt, UnboundedRead
from dteg.beam.windowing import (
    WINDOWS,
    WindowedAggregate,
    WindowStage,
    pane_of,
    without_marks,
)
from dteg.components.contracts import RunContext
from dteg.components.registry import ComponentInfo
from dteg.components.settings import StreamLimits
from dteg.spec.models import PipelineSpec, StepSpec
from dteg.transforms.window import WindowConfig

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
        self.panes: list[tuple[Any, list[str]]] = []

    def process(self, batch: Any):
        pane = pane_of(batch)
        if pane is not None:
            self.panes.append(pane)
        yield from super().process(without_marks(batch))

    def _flush(self):
        with _commit_lock(self.built.ctx.step):
            results = list(super()._flush())
        # Committed: the panes this bundle wrote may release their polls' offsets.
        panes, self.panes = self.panes, []
        for window, polls in panes:
            WINDOWS.committed(self.built.ctx.step, window, polls)
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
                             self.max_records[step.name], windowed=self.window_config())

    @property
    def windowed(self) -> bool:
        return self.window_config() is not None

    def window_config(self) -> WindowConfig | None:
        """The window step's settings (its event-time column drives the read's watermark)."""
        windows = [s.validated() for s in self.spec.steps if is_window(s)]
        return windows[0] if windows and isinstance(windows[0], WindowConfig) else None

    def window_lateness(self) -> dict[str, int]:
        """aggregate step → its window's allowed lateness (µs)."""
        found = {}
        for step in self.spec.steps:
            window = window_step(self.spec, step) if step.capabilities.role == "aggregate" \
                else None
            if window is not None:
                config = window.validated()
                assert isinstance(config, WindowConfig)
                found[step.name] = config.lateness_us
        return found

    def windowed_sinks(self) -> dict[str, frozenset[str]]:
        """aggregate step → the sinks after it (all commit a window before it is final)."""
        return {s.name: frozenset(c for c in _downstream(self.spec, s.name)
                                  if self.spec.step(c).is_sink)
                for s in self.spec.steps if s.capabilities.role == "aggregate"}

    def stage_transform(self, step: StepSpec, info: ComponentInfo, settings: Any,
                        ctx: RunContext) -> beam.PTransform:
        if is_window(step):
            return WindowStage(info, settings, ctx)
        return super().stage_transform(step, info, settings, ctx)

    def aggregate_transform(self, step: StepSpec, settings: Any,
                            ctx: RunContext) -> beam.PTransform:
        window = window_step(self.spec, step)
        if window is None:
            return super().aggregate_transform(step, settings, ctx)
        return WindowedAggregate(settings, window, ctx)

    def sink_transform(self, step: StepSpec, ctx: RunContext, gate: Any) -> beam.PTransform:
        return BundleCommits(self.info(step), step.validated(), ctx)
