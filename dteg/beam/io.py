"""Generic Beam transforms around the plain contracts of ``dteg.components.contracts``.

Every source, stage and sink runs through one of three wrappers, so counting, dead-letter
routing and the two-phase commit are written once:

* ``ReadSource``: Impulse → splits → Reshuffle → read each split (rows + dead letters);
* ``ApplyStage``: one batch in → kept rows, dead letters, filtered count;
* ``WriteSink``: parts written per bundle → gathered → one commit.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
import uuid
from collections.abc import Callable
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue
from pydantic import BaseModel

from dteg.beam import progress
from dteg.beam.part_feed import PartFeed
from dteg.components.contracts import PartResult, Rejected, RunContext
from dteg.components.records import without_provenance
from dteg.components.registry import ComponentInfo
from dteg.components.settings import StreamLimits, stream_limits
from dteg.errors import find_error

DEAD = "dead_letter"
STATS = "stats"  # per-batch counts ({"rows": n, "invalid": k, "rule:<label>:failed": c})
NAMESPACE = "dteg"


class ArrowBatchCoder(beam.coders.Coder):
    """Encodes a ``pyarrow.RecordBatch`` as an Arrow IPC stream."""

    def encode(self, value: pa.RecordBatch) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, value.schema) as writer:
            writer.write_batch(value)
        return sink.getvalue().to_pybytes()

    def decode(self, encoded: bytes) -> pa.RecordBatch:
        with pa.ipc.open_stream(encoded) as reader:
            return reader.read_next_batch()

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self) -> Any:
        return pa.RecordBatch


beam.coders.registry.register_coder(pa.RecordBatch, ArrowBatchCoder)


def counter(step: str, what: str) -> Any:
    return Metrics.counter(NAMESPACE, f"{step}:{what}")


class _Built:
    """Builds a component's runtime object once per worker from picklable parts: the
    registry entry, the step's validated settings and its run context."""

    def __init__(self, info: ComponentInfo, settings: BaseModel, ctx: RunContext) -> None:
        self.info = info
        self.settings = settings
        self.ctx = ctx

    def build(self) -> Any:
        return self.info.build(self.settings, self.ctx)


def keeps_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a DoFn method (``self.built`` or ``self.ctx`` names its step) so a typed error it
    raises is also kept in the run folder: runners hand errors back to the launcher as text,
    and the launcher reports the kept one, with its step and line."""

    def record(self: Any, exc: BaseException) -> None:
        found = find_error(exc)
        ctx = self.built.ctx if hasattr(self, "built") else self.ctx
        if found is not None:
            with contextlib.suppress(OSError):
                ctx.run_folder.record_error(ctx.step, found)

    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(self, *args, **kwargs)
            except BaseException as exc:
                record(self, exc)
                raise
        return generator

    @functools.wraps(method)
    def plain(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except BaseException as exc:
            record(self, exc)
            raise
    return plain


# --- sources ---------------------------------------------------------------------------------


class _ListSplits(beam.DoFn):
    def __init__(self, built: _Built) -> None:
        self.built = built

    @keeps_errors
    def process(self, _: Any):
        reader = self.built.build()
        yield from reader.splits()


class _ReadSplit(beam.DoFn):
    def __init__(self, built: _Built) -> None:
        self.built = built
        step = built.ctx.step
        self.rows_out = counter(step, "out")
        self.dead = counter(step, "dead_letter")

    @keeps_errors
    def setup(self) -> None:
        self.reader = self.built.build()
        self.schema_recorded = False

    @keeps_errors
    def process(self, split: Any):
        # A split with no rows still says what its columns are: its first zero-row batch
        # goes on, so a sink can replace its target with an empty one of the right schema.
        empty: pa.RecordBatch | None = None
        rows = False
        for item in self.reader.read(split):
            if isinstance(item, Rejected):
                self.dead.inc(item.batch.num_rows)
                yield beam.pvalue.TaggedOutput(DEAD, item.batch)
            elif item.num_rows:
                self._record_schema(item)
                rows = True
                self.rows_out.inc(item.num_rows)
                progress.rows_read.add(item.num_rows)
                yield item
            elif empty is None and item.num_columns:  # no columns: nothing to say
                empty = item
        if not rows and empty is not None:
            # Not recorded as the source's schema: a header-only file's columns are all text
            # (nothing to infer types from), which drift checks would report as a change.
            yield empty

    def _record_schema(self, batch: pa.RecordBatch) -> None:
        if not self.schema_recorded:
            # where rows were read (provenance columns) is not part of the data's schema
            self.built.ctx.run_folder.record_schema(
                self.built.ctx.step, without_provenance(batch.schema.empty_table()).schema)
            self.schema_recorded = True


class ReadSource(beam.PTransform):
    def __init__(self, info: ComponentInfo, settings: BaseModel, ctx: RunContext) -> None:
        super().__init__()
        self.built = _Built(info, settings, ctx)

    def expand(self, pbegin):
        return (
            pbegin
            | "Start" >> beam.Impulse()
            | "ListSplits" >> beam.ParDo(_ListSplits(self.built))
            | "Distribute" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(_ReadSplit(self.built)).with_outputs(DEAD, main="rows")
        )


# --- stages ----------------------------------------------------------------------------------


class _Apply(beam.DoFn):
    def __init__(self, built: _Built, *, count_out: bool = True,
                 emit_stats: bool = False) -> None:
        self.built = built
        step = built.ctx.step
        self.rows_in = counter(step, "in")
        self.rows_out = counter(step, "out")
        self.dead = counter(step, "dead_letter")
        self.filtered = counter(step, "filtered")
        self.count_out = count_out
        self.emit_stats = emit_stats
        self.extra: dict[str, Any] = {}

    @keeps_errors
    def setup(self) -> None:
        self.stage = self.built.build()
        self.stage.setup()
        self.empty_sent = False

    @keeps_errors
    def process(self, batch: pa.RecordBatch):
        self.rows_in.inc(batch.num_rows)
        result = self.stage.apply(batch)
        if result.filtered:
            self.filtered.inc(result.filtered)
        dead = result.rejected.num_rows if result.rejected is not None else 0
        for key, value in result.stats.items():
            if key not in self.extra:
                self.extra[key] = counter(self.built.ctx.step, key)
            self.extra[key].inc(value)
        if self.emit_stats:
            yield beam.pvalue.TaggedOutput(STATS, {
                "rows": batch.num_rows, "invalid": dead + result.filtered, **result.stats})
        if dead:
            self.dead.inc(dead)
            yield beam.pvalue.TaggedOutput(DEAD, result.rejected)
        if result.kept is not None and result.kept.num_rows:
            if self.count_out:
                self.rows_out.inc(result.kept.num_rows)
            yield result.kept
        elif result.kept is not None and result.kept.num_columns and not self.empty_sent:
            # No rows kept: one zero-row batch per worker carries the output schema on, so
            # a load of zero rows still knows its columns.
            self.empty_sent = True
            yield result.kept


class ApplyStage(beam.PTransform):
    """A stage: outputs ``rows``, ``dead_letter`` and (with ``emit_stats``) ``stats``.

    ``count_out=False`` leaves the step's ``out`` counter to a later part of the same step
    (the run-wide ``unique`` check)."""

    def __init__(self, info: ComponentInfo, settings: BaseModel, ctx: RunContext, *,
                 count_out: bool = True, emit_stats: bool = False) -> None:
        super().__init__()
        self.built = _Built(info, settings, ctx)
        self.count_out = count_out
        self.emit_stats = emit_stats

    def expand(self, pcoll):
        apply = _Apply(self.built, count_out=self.count_out, emit_stats=self.emit_stats)
        return pcoll | "Apply" >> beam.ParDo(apply).with_outputs(DEAD, STATS, main="rows")


# --- sinks -----------------------------------------------------------------------------------


class _WriteParts(beam.DoFn):
    def __init__(self, built: _Built) -> None:
        self.built = built
        self.rows_in = counter(built.ctx.step, "in")

    @keeps_errors
    def setup(self) -> None:
        self.feed = PartFeed(self.built.build(), self.built.ctx, self.rows_in.inc)

    @keeps_errors
    def process(self, batch: pa.RecordBatch):
        self.feed.push(batch)

    @keeps_errors
    def finish_bundle(self):
        result = self.feed.finish()
        if result is not None:
            yield WindowedValue(result, GlobalWindow().max_timestamp(), (GlobalWindow(),))


def _commit(writer: Any, parts: list[PartResult]) -> Any:
    """Publish ``parts``; on failure drop them (the target stays as it was) and re-raise."""
    try:
        return writer.commit(parts)
    except BaseException:
        writer.abort(parts)
        raise


class _Commit(beam.DoFn):
    def __init__(self, built: _Built) -> None:
        self.built = built
        self.loaded = counter(built.ctx.step, "loaded")
        self.dead = counter(built.ctx.step, "dead_letter")

    @keeps_errors
    def process(self, parts: list[PartResult], gates: Any = ()):
        # `gates` (quality thresholds) is a side input: this runs only once every gate has
        # passed; a gate that fails raises, and then no sink commits.
        result = _commit(self.built.build(), sorted(parts, key=lambda p: p.location))
        # The launcher reads this marker to settle a run killed before it saved its state.
        self.built.ctx.run_folder.record_commit(self.built.ctx.step, result.rows)
        self.loaded.inc(result.rows)
        if result.dead_lettered:
            self.dead.inc(result.dead_lettered)
        yield result


class _StreamWrite(beam.DoFn):
    """``strategy: stream``: a micro-batch is written and committed as soon as it holds
    ``batch.rows`` rows or ``batch.bytes`` Arrow bytes, is ``batch.seconds`` old when the next
    rows arrive, or the runner ends the bundle. Quality gates do not hold these commits back
    (a stream has no end to wait for)."""

    def __init__(self, built: _Built, limits: StreamLimits) -> None:
        self.built = built
        self.limits = (limits.rows, limits.bytes, limits.seconds)
        self.rows_in = counter(built.ctx.step, "in")
        self.loaded = counter(built.ctx.step, "loaded")
        self.dead = counter(built.ctx.step, "dead_letter")

    @keeps_errors
    def setup(self) -> None:
        self.writer = self.built.build()
        self.schema_recorded = False
        self.committed = 0

    def start_bundle(self) -> None:
        self.part: Any = None
        self.rows = self.size = 0
        self.opened = 0.0

    @keeps_errors
    def process(self, batch: pa.RecordBatch):
        batch = without_provenance(batch)
        if not batch.num_rows:
            return  # a micro-batch of no rows commits nothing
        if not self.schema_recorded:
            self.built.ctx.run_folder.record_schema(self.built.ctx.step, batch.schema)
            self.schema_recorded = True
        if self.part is None:
            self.part = self.writer.open_part(uuid.uuid4().hex[:12])
            self.opened = time.monotonic()
        self.part.write(batch)
        self.rows_in.inc(batch.num_rows)
        self.rows += batch.num_rows
        self.size += batch.nbytes
        rows, size, seconds = self.limits
        if ((rows and self.rows >= rows) or (size and self.size >= size)
                or (seconds and time.monotonic() - self.opened >= seconds)):
            yield from self._flush()

    @keeps_errors
    def finish_bundle(self):
        for result in self._flush():
            yield WindowedValue(result, GlobalWindow().max_timestamp(), (GlobalWindow(),))

    def _flush(self):
        part, self.part = self.part, None
        self.rows = self.size = 0
        if part is None:
            return
        result = part.close()
        if result is None:
            return
        committed = _commit(self.writer, [result])
        self.committed += committed.rows
        self.built.ctx.run_folder.record_commit(self.built.ctx.step, self.committed)
        self.loaded.inc(committed.rows)
        if committed.dead_lettered:
            self.dead.inc(committed.dead_lettered)
        yield committed


class WriteSink(beam.PTransform):
    """Parts are written where the rows are produced (one writer per input, fused with it),
    so no input is ever buffered whole; only the small part descriptions are gathered.
    With ``strategy: stream`` each writer commits its own micro-batches instead."""

    def __init__(self, info: ComponentInfo, settings: BaseModel, ctx: RunContext,
                 gate: Any = None) -> None:
        super().__init__()
        self.built = _Built(info, settings, ctx)
        # Quality-gate verdicts (a PCollection): the commit waits for every gate and never
        # runs if one fails.
        self.gate = gate

    def expand(self, inputs):
        if isinstance(inputs, beam.pvalue.PCollection):
            inputs = (inputs,)
        limits = stream_limits(self.built.settings)
        if limits is not None:
            commits = [pcoll | f"StreamWrite{'' if i == 0 else i}" >> beam.ParDo(
                _StreamWrite(self.built, limits)) for i, pcoll in enumerate(inputs)]
            return commits[0] if len(commits) == 1 else commits | "Commits" >> beam.Flatten()
        parts = [
            pcoll | f"WriteParts{'' if i == 0 else i}" >> beam.ParDo(_WriteParts(self.built))
            for i, pcoll in enumerate(inputs)
        ]
        merged = parts[0] if len(parts) == 1 else parts | "MergeParts" >> beam.Flatten()
        return (
            merged
            | "Gather" >> beam.combiners.ToList()
            | "Commit" >> (beam.ParDo(_Commit(self.built)) if self.gate is None else
                           beam.ParDo(_Commit(self.built), gates=beam.pvalue.AsList(self.gate)))
        )
