"""Generic Beam transforms around the plain contracts of ``dteg.engine.contracts``.

Every source, stage and sink runs through one of three wrappers, so counting, dead-letter
routing and the two-phase commit are written once:

* ``ReadSource``: Impulse → splits → Reshuffle → read each split (rows + dead letters);
* ``ApplyStage``: one batch in → kept rows, dead letters, filtered count;
* ``WriteSink``: parts written per bundle → gathered → one commit.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from dteg.engine import progress
from dteg.engine.contracts import PartResult, Rejected, RunContext
from dteg.engine.registry import ComponentInfo

DEAD = "dead_letter"
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


def record_schema(ctx: RunContext, schema: pa.Schema) -> None:
    """Leave the schema a step saw for the launcher (lineage, schema drift). First writer
    wins; every worker of a step sees the same schema or the sink refuses the mix."""
    target = ctx.run_dir / "schemas" / f"{ctx.step}.json"
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fields = [{"name": f.name, "type": str(f.type)} for f in schema]
    tmp = target.with_suffix(f".{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(fields), encoding="utf-8")
    os.replace(tmp, target)


class _Built:
    """Builds a component's runtime object once per worker from picklable parts."""

    def __init__(self, info: ComponentInfo, config: dict[str, Any], ctx: RunContext) -> None:
        self.info = info
        self.config = config
        self.ctx = ctx

    def build(self) -> Any:
        model = self.info.config_model().model_validate(self.config)
        return self.info.load_factory()(model, self.ctx)


# --- sources ---------------------------------------------------------------------------------


class _ListSplits(beam.DoFn):
    def __init__(self, built: _Built) -> None:
        self.built = built

    def process(self, _: Any):
        reader = self.built.build()
        yield from reader.splits()


class _ReadSplit(beam.DoFn):
    def __init__(self, built: _Built) -> None:
        self.built = built
        step = built.ctx.step
        self.rows_out = counter(step, "out")
        self.dead = counter(step, "dead_letter")

    def setup(self) -> None:
        self.reader = self.built.build()
        self.schema_recorded = False

    def process(self, split: Any):
        for item in self.reader.read(split):
            if isinstance(item, Rejected):
                self.dead.inc(item.batch.num_rows)
                yield beam.pvalue.TaggedOutput(DEAD, item.batch)
            elif item.num_rows:
                if not self.schema_recorded:
                    record_schema(self.built.ctx, item.schema)
                    self.schema_recorded = True
                self.rows_out.inc(item.num_rows)
                progress.rows_read.add(item.num_rows)
                yield item


class ReadSource(beam.PTransform):
    def __init__(self, info: ComponentInfo, config: dict[str, Any], ctx: RunContext) -> None:
        super().__init__()
        self.built = _Built(info, config, ctx)

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
    def __init__(self, built: _Built) -> None:
        self.built = built
        step = built.ctx.step
        self.rows_in = counter(step, "in")
        self.rows_out = counter(step, "out")
        self.dead = counter(step, "dead_letter")
        self.filtered = counter(step, "filtered")

    def setup(self) -> None:
        self.stage = self.built.build()
        self.stage.setup()

    def process(self, batch: pa.RecordBatch):
        self.rows_in.inc(batch.num_rows)
        result = self.stage.apply(batch)
        if result.filtered:
            self.filtered.inc(result.filtered)
        if result.rejected is not None and result.rejected.num_rows:
            self.dead.inc(result.rejected.num_rows)
            yield beam.pvalue.TaggedOutput(DEAD, result.rejected)
        if result.kept is not None and result.kept.num_rows:
            self.rows_out.inc(result.kept.num_rows)
            yield result.kept


class ApplyStage(beam.PTransform):
    def __init__(self, info: ComponentInfo, config: dict[str, Any], ctx: RunContext) -> None:
        super().__init__()
        self.built = _Built(info, config, ctx)

    def expand(self, pcoll):
        return pcoll | "Apply" >> beam.ParDo(_Apply(self.built)).with_outputs(DEAD, main="rows")


# --- sinks -----------------------------------------------------------------------------------


class _WriteParts(beam.DoFn):
    def __init__(self, built: _Built) -> None:
        self.built = built
        self.rows_in = counter(built.ctx.step, "in")

    def setup(self) -> None:
        self.writer = self.built.build()
        self.schema_recorded = False

    def start_bundle(self) -> None:
        self.part: Any = None

    def process(self, batch: pa.RecordBatch):
        if not self.schema_recorded:
            record_schema(self.built.ctx, batch.schema)
            self.schema_recorded = True
        if self.part is None:
            self.part = self.writer.open_part(uuid.uuid4().hex[:12])
        self.part.write(batch)
        self.rows_in.inc(batch.num_rows)

    def finish_bundle(self):
        if self.part is not None:
            result = self.part.close()
            self.part = None
            if result is not None:
                yield WindowedValue(result, GlobalWindow().max_timestamp(), (GlobalWindow(),))


class _Commit(beam.DoFn):
    def __init__(self, built: _Built) -> None:
        self.built = built
        self.loaded = counter(built.ctx.step, "loaded")

    def process(self, parts: list[PartResult]):
        writer = self.built.build()
        try:
            result = writer.commit(sorted(parts, key=lambda p: p.location))
        except BaseException:
            writer.abort(parts)
            raise
        self.loaded.inc(result.rows)
        yield result


class WriteSink(beam.PTransform):
    def __init__(self, info: ComponentInfo, config: dict[str, Any], ctx: RunContext) -> None:
        super().__init__()
        self.built = _Built(info, config, ctx)

    def expand(self, pcoll):
        return (
            pcoll
            | "WriteParts" >> beam.ParDo(_WriteParts(self.built))
            | "Gather" >> beam.combiners.ToList()
            | "Commit" >> beam.ParDo(_Commit(self.built))
        )
