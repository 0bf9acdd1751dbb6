"""The ``aggregate`` step in Beam: partials per batch (where the rows are), one merge at the
end. In a bounded run every window is emitted at the end; in a stream (``dteg stream``) the
windows the watermark has passed are emitted and the open ones are left for the launcher to
keep in the stream's checkpoint (``dteg.transforms.checkpoint``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa

from dteg.beam.io import counter
from dteg.components.contracts import RunContext, as_batch
from dteg.spec.models import PipelineSpec, StepSpec
from dteg.transforms import checkpoint
from dteg.transforms.aggregate import AggregateConfig, Aggregator
from dteg.transforms.window import WindowConfig


def is_window(step: StepSpec) -> bool:
    """A stateful row stage (event-time windows); aggregates group what it assigns."""
    return step.capabilities.stateful and step.capabilities.role == "row"


def window_step(spec: PipelineSpec, step: StepSpec) -> StepSpec | None:
    """The nearest window step upstream of ``step`` (following first inputs)."""
    current = step
    while current.inputs:
        current = spec.step(current.inputs[0])
        if is_window(current):
            return current
        if current.capabilities.role == "aggregate":
            return None  # windows of an earlier aggregation are its own
    return None


class _Spec:
    """Picklable parts that build the step's Aggregator on a worker."""

    def __init__(self, settings: AggregateConfig, window: StepSpec | None,
                 ctx: RunContext) -> None:
        self.settings = settings
        self.window_settings = window.validated() if window else None
        self.window_name = window.name if window else None
        self.ctx = ctx

    def build(self) -> Aggregator:
        window = self.window_settings
        assert window is None or isinstance(window, WindowConfig), \
            "an aggregate's window step must have window settings"
        return Aggregator(self.settings, window, self.ctx.step)


class _Partial(beam.DoFn):
    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        self.rows_in = counter(spec.ctx.step, "in")

    def setup(self) -> None:
        self.aggregator = self.spec.build()

    def process(self, batch: pa.RecordBatch) -> Iterator[pa.Table]:
        self.rows_in.inc(batch.num_rows)
        if batch.num_rows or batch.num_columns:
            yield self.aggregator.partial(batch)  # of no rows: it carries the types on


class _Emit(beam.DoFn):
    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        self.rows_out = counter(spec.ctx.step, "out")

    def process(self, partials: list[pa.Table]) -> Iterator[pa.RecordBatch]:
        aggregator = self.spec.build()
        ctx = self.spec.ctx
        folder = ctx.plan.checkpoint_dir
        pending = ctx.plan.pending_state_dir
        bounded = folder is None or pending is None or aggregator.window is None
        if bounded:
            closed = aggregator.merge(partials)  # the end closes every window
        else:
            assert folder is not None and pending is not None
            closed = self._stream(aggregator, partials, folder, pending)
        if closed is None or not (closed.num_rows or bounded):
            return  # a micro-batch that closes no window writes nothing
        table = aggregator.output(closed)
        self.rows_out.inc(table.num_rows)
        # No groups: one zero-row batch carries the output's columns to the sinks.
        yield as_batch(table)

    def _stream(self, aggregator: Aggregator, partials: list[pa.Table], folder: Path,
                pending: Path) -> pa.Table | None:
        assert aggregator.window is not None
        window = self.spec.window_name
        assert window is not None
        saved = checkpoint.load(folder)
        previous = checkpoint.read_state(folder, saved, self.spec.ctx.step)
        merged = aggregator.merge([previous, *partials] if previous is not None else partials)
        seen = [v for v in (saved.max_event.get(window), aggregator.max_event(merged))
                if v is not None]
        max_event = max(seen) if seen else None
        watermark = saved.watermarks.get(window)
        if max_event is not None:
            candidate = max_event - aggregator.window.lateness_us
            watermark = candidate if watermark is None else max(watermark, candidate)
        closed, still_open = aggregator.split(merged, watermark if watermark is not None
                                              else -(2 ** 62))
        step = self.spec.ctx.step
        if still_open is not None and still_open.num_rows:
            checkpoint.write_table(pending / f"{step}.arrow", still_open)
        checkpoint.write_json(pending / f"{step}.json", {
            "window_step": window, "watermark": watermark, "max_event": max_event})
        return closed


class Aggregate(beam.PTransform):
    """``rows`` in, one row per group (and window) out."""

    def __init__(self, settings: AggregateConfig, window: StepSpec | None,
                 ctx: RunContext) -> None:
        super().__init__()
        self.spec = _Spec(settings, window, ctx)

    def expand(self, pcoll: Any) -> Any:
        return (
            pcoll
            | "Partial" >> beam.ParDo(_Partial(self.spec))
            | "Gather" >> beam.combiners.ToList()
            | "Emit" >> beam.ParDo(_Emit(self.spec))
        )
