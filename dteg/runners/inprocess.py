"""Bounded file runs without Beam: the same components, in this process, in one pass.

A 1,000-row file spent most of its run importing Beam (≈ 1–2 s, more with the GCP extras)
and building and starting the FnApiRunner, which then ran every stage in one thread of this
process anyway. For a bounded pipeline whose input size is known (``BatchReader.
size_hint``) and that needs nothing run-wide (no ``unique`` rule, no quality threshold, no
aggregate, no restricted-access guard, no ``strategy: stream`` sink), this executor runs the
very same readers, stages and writers with the semantics of ``dteg.beam.io``: splits read in
order, each batch pushed through its consumers, a part per sink input, zero-row batches
carrying schemas, dead letters masked and written per producer, one commit per sink, the same
counters and run-folder records. Anything else, more than ``DTEG_INPROCESS_MAX_BYTES`` of input,
or ``DTEG_INPROCESS_MAX_BYTES=0``, goes to the
FnApiRunner.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from dteg.beam import progress
from dteg.beam.graph import StepResolver, order
from dteg.beam.part_feed import PartFeed
from dteg.components.contracts import Rejected
from dteg.components.plan import RunPlan
from dteg.components.records import without_provenance
from dteg.components.registry import default_registry
from dteg.components.settings import stream_limits
from dteg.run.report import RunReport
from dteg.runners.outcome import abort_staged, build_report, step_counts
from dteg.spec.models import PipelineSpec, StepSpec

# Measured (bench/README.md, "fixed cost"): in-process is cheaper at every size tried, 1,000
# rows (no Beam start-up) to 1M rows (≈ 100 MB: 5.0 s CPU against the FnApiRunner's 6.7–9.4 s;
# it too runs every stage in one thread). Larger inputs go to the FnApiRunner.
DEFAULT_MAX_BYTES = 4 << 30


def max_bytes() -> int:
    try:
        return int(os.environ.get("DTEG_INPROCESS_MAX_BYTES", DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


def _needs_beam(step: StepSpec) -> bool:
    if step.runs_after_load:
        return False
    caps = step.capabilities
    if step.is_source:
        return caps.unbounded
    if step.is_sink:
        return stream_limits(step.validated()) is not None
    if caps.role == "aggregate":
        return True
    if caps.role == "validate":
        config: Any = step.validated()
        return bool(config.has_thresholds() or any(r.type == "unique" for r in config.rules))
    return caps.role != "row"


def suitable(spec: PipelineSpec, plan: RunPlan) -> bool:
    """The run can go without Beam: nothing run-wide, and every source's input is known to be
    at most ``DTEG_INPROCESS_MAX_BYTES`` (4 GiB) in all."""
    limit = max_bytes()
    if limit <= 0 or spec.body.security.access_level == "restricted":
        return False
    if any(_needs_beam(step) for step in spec.steps):
        return False
    resolver = StepResolver(spec, plan, default_registry())
    total = 0
    for step in spec.sources():
        reader = resolver.info(step).build(step.validated(), resolver.context(step.name, step))
        size = reader.size_hint()
        if size is None:
            return False
        total += size
    return total <= limit


@dataclass
class _Stage:
    """A row stage (``_Apply`` of dteg.beam.io) and where its rows and dead letters go."""

    stage: Any
    step: str
    counters: dict[str, int]
    rows: list[Any] = field(default_factory=list)
    dead: list[PartFeed] = field(default_factory=list)
    empty_sent: bool = False

    def push(self, batch: pa.RecordBatch) -> None:
        _inc(self.counters, self.step, "in", batch.num_rows)
        result = self.stage.apply(batch)
        if result.filtered:
            _inc(self.counters, self.step, "filtered", result.filtered)
        for key, value in result.stats.items():
            _inc(self.counters, self.step, key, value)
        if result.rejected is not None and result.rejected.num_rows:
            _inc(self.counters, self.step, "dead_letter", result.rejected.num_rows)
            for target in self.dead:
                target.push(result.rejected)
        kept = result.kept
        if kept is not None and kept.num_rows:
            _inc(self.counters, self.step, "out", kept.num_rows)
        elif kept is not None and kept.num_columns and not self.empty_sent:
            self.empty_sent = True  # one zero-row batch carries the schema on
        else:
            return
        for consumer in self.rows:
            consumer.push(kept)


def _inc(counters: dict[str, int], step: str, what: str, n: int) -> None:
    key = f"{step}:{what}"
    counters[key] = counters.get(key, 0) + n


class _Run:
    def __init__(self, spec: PipelineSpec, plan: RunPlan) -> None:
        self.spec = spec
        # Parts and commits in this one process: a sink may keep its parts local until the
        # commit (an object-store target is then uploaded once, straight to its final key).
        self.resolver = StepResolver(spec, plan, default_registry(), local_commit=True)
        self.counters: dict[str, int] = {}
        self.sink_inputs: dict[str, list[PartFeed]] = {}
        self.consumers: dict[str, list[Any]] = {}  # step → row consumers
        self.dead: dict[str, list[PartFeed]] = {}  # producer → dead-letter writers

    def wire(self) -> list[StepSpec]:
        """Build every stage and sink input; return the sources in pipeline order."""
        steps = [s for s in order(self.spec) if not s.runs_after_load]
        dead_sink = self.spec.dead_letter_sink()
        for step in reversed(steps):  # consumers first, so producers can point at them
            if step.is_sink:
                continue
            if dead_sink is not None and step.name in dead_sink.inputs:
                self.dead[step.name] = [self._sink_input(dead_sink)]
            if step.is_source:
                continue
            stage = self.resolver.info(step).build(
                step.validated(), self.resolver.context(step.name, step))
            stage.setup()
            node = _Stage(stage, step.name, self.counters, self._consumers(step),
                          self.dead.get(step.name, []))
            for name in step.inputs:
                self.consumers.setdefault(name, []).insert(0, node)
        return [s for s in steps if s.is_source]

    def _consumers(self, step: StepSpec) -> list[Any]:
        found = list(self.consumers.get(step.name, []))
        for sink in self.spec.steps:
            if sink.is_sink and not sink.is_dead_letter_sink and step.name in sink.inputs:
                found.append(self._sink_input(sink))
        return found

    def _sink_input(self, sink: StepSpec) -> PartFeed:
        ctx = self.resolver.context(sink.name, sink)
        target = PartFeed(self.resolver.writer(sink), ctx,
                          functools.partial(_inc, self.counters, sink.name, "in"))
        self.sink_inputs.setdefault(sink.name, []).append(target)
        return target

    def read(self, step: StepSpec) -> None:
        """``_ListSplits`` then ``_ReadSplit`` of dteg.beam.io, for one source."""
        ctx = self.resolver.context(step.name, step)
        reader = self.resolver.info(step).build(step.validated(), ctx)
        consumers = self._consumers(step)
        dead = self.dead.get(step.name, [])
        schema_recorded = False
        for split in reader.splits():
            empty: pa.RecordBatch | None = None
            rows = False
            for item in reader.read(split):
                if isinstance(item, Rejected):
                    _inc(self.counters, step.name, "dead_letter", item.batch.num_rows)
                    for target in dead:
                        target.push(item.batch)
                elif item.num_rows:
                    if not schema_recorded:
                        ctx.run_folder.record_schema(
                            step.name, without_provenance(item.schema.empty_table()).schema)
                        schema_recorded = True
                    rows = True
                    _inc(self.counters, step.name, "out", item.num_rows)
                    progress.rows_read.add(item.num_rows)
                    for consumer in consumers:
                        consumer.push(item)
                elif empty is None and item.num_columns:
                    empty = item
            if not rows and empty is not None:
                for consumer in consumers:
                    consumer.push(empty)

    def commit(self) -> None:
        """Each sink's parts, then its one commit (``_Commit`` of dteg.beam.io)."""
        for name, inputs in self.sink_inputs.items():
            parts = [p for p in (i.finish() for i in inputs) if p is not None]
            step = self.spec.step(name)
            writer = self.resolver.writer(step)
            try:
                result = writer.commit(sorted(parts, key=lambda p: p.location))
            except BaseException:
                writer.abort(parts)
                raise
            self.resolver.context(name).run_folder.record_commit(name, result.rows)
            _inc(self.counters, name, "loaded", result.rows)
            if result.dead_lettered:
                _inc(self.counters, name, "dead_letter", result.dead_lettered)


def run(spec: PipelineSpec, plan: RunPlan, *, runner_name: str = "direct") -> RunReport:
    """Run ``spec`` (``suitable`` said yes) to completion; the same report as the
    FnApiRunner's."""
    started = time.perf_counter()
    job = _Run(spec, plan)
    try:
        for source in job.wire():
            job.read(source)
        # The dead-letter sink commits last: as in the Beam graph, a run whose load fails
        # leaves its dead letters unpublished too (abort_staged drops them).
        dead_sink = spec.dead_letter_sink()
        if dead_sink is not None and dead_sink.name in job.sink_inputs:
            job.sink_inputs[dead_sink.name] = job.sink_inputs.pop(dead_sink.name)
        job.commit()
    except BaseException:
        abort_staged(spec, job.resolver)
        raise
    counters = dict(job.counters)
    return build_report(spec, plan, job.resolver, step_counts(counters, spec), counters,
                        runner_name, time.perf_counter() - started)
