"""An unbounded source inside one long-running Beam pipeline: a splittable DoFn over the
source's partitions (``PartitionPoller``).

* Each element names one partition and where to start (the consumer group's committed
  offset); its restriction is the offset range [start, ``until`` or unbounded).
* One ``process`` call polls once (bounded by the source's ``batch`` size and time, as the
  micro-batch path), claims every message it emits, emits the decoded Arrow batches (and
  dead letters), then checkpoints itself, so each poll is one bundle. The watermark is the
  oldest record time of the latest poll (never moving back); an idle partition's watermark
  stands still.
* The sinks are fused into the same bundle and commit in ``finish_bundle`` (``_StreamWrite``
  of ``dteg.beam.io``). The runner sends *bundle finalization* only after the whole bundle
  succeeded and its outputs were persisted, so the finalization callback marks the bundle's
  offset range as loaded in ``LEDGER``; the launcher commits each partition's contiguous
  loaded prefix. Prism (``internal/stage.go``: ``PersistBundle`` then ``Finalize``) and the
  FnApiRunner honour it. Runner-initiated splits are refused (only checkpoints), so ranges
  stay contiguous per partition; the ledger still commits only contiguous prefixes.

The ledger lives in the launcher's process: the SDK workers must run there (LOOPBACK).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Duration, Timestamp
from pydantic import BaseModel

from dteg.beam import progress
from dteg.beam.io import DEAD, _Built, counter, keeps_errors
from dteg.components.contracts import Partition, PartitionPoller, Rejected, RunContext
from dteg.components.registry import ComponentInfo

UNBOUNDED = sys.maxsize
IDLE_DELAY = 0.05  # seconds before an idle partition polls again
POLL_TIMEOUT = 0.5  # how long one poll waits for a first message


@dataclass(frozen=True)
class StartAt:
    """One partition of one source step and where reading starts. A Beam element."""

    step: str
    topic: str
    partition: int
    start: int
    stop: int | None = None  # `until:` (exclusive); None: unbounded

    @property
    def tp(self) -> Partition:
        return (self.topic, self.partition)


class Ledger:
    """Offset ranges whose bundles were finalized (every fused sink committed them), per
    step and partition, and each partition's contiguous loaded position."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._positions: dict[str, dict[Partition, int]] = {}
        self._ranges: dict[str, dict[Partition, dict[int, int]]] = {}
        self.records = 0
        self.bundles = 0  # finalized polls (one partition's poll in one bundle each)
        self.latencies: list[float] = []  # seconds, offsets committed − event time
        self._pending: list[int] = []  # event times (ms) loaded, not yet committed
        # monotonic times: the first loaded poll began, the last one was finalized
        self.first: float | None = None
        self.last: float | None = None

    def reset(self, positions: dict[str, dict[Partition, int]]) -> None:
        with self._lock:
            self._positions = {s: dict(p) for s, p in positions.items()}
            self._ranges = {s: {} for s in positions}
            self.records = self.bundles = 0
            self.latencies = []
            self._pending = []
            self.first = self.last = None

    def loaded(self, step: str, tp: Partition, start: int, end: int, records: int,
               event_ms: list[int], polled_at: float | None = None) -> None:
        import time

        with self._lock:
            now = time.monotonic()
            if polled_at is not None:
                self.first = polled_at if self.first is None else min(self.first, polled_at)
            self.last = now if self.last is None else max(self.last, now)
            self._ranges.setdefault(step, {}).setdefault(tp, {})[start] = end
            self.records += records
            self.bundles += 1
            self._pending.extend(event_ms)

    def committed_at(self, now: float) -> None:
        """The launcher committed the offsets of what was loaded so far at ``now`` (s):
        end-to-end latency of those records = now − their event time."""
        with self._lock:
            self.latencies.extend(max(now - ms / 1000, 0.0) for ms in self._pending)
            self._pending = []

    def positions(self) -> dict[str, dict[Partition, int]]:
        """Each partition's position after its contiguous loaded ranges."""
        with self._lock:
            for step, parts in self._ranges.items():
                known = self._positions.setdefault(step, {})
                for tp, ranges in parts.items():
                    at = known.get(tp)
                    if at is None:
                        at = min(ranges)
                    while at in ranges:
                        at = ranges.pop(at)
                    # ranges that start below `at` were read again after a restart: done
                    for start in [s for s in ranges if s < at]:
                        at = max(at, ranges.pop(start))
                    known[tp] = at
            return {s: dict(p) for s, p in self._positions.items()}


LEDGER = Ledger()


class _CheckpointOnly(OffsetRestrictionTracker):
    """Refuses the runner's splits (fraction > 0): a partition is read in offset order by
    one restriction at a time, only checkpointed (fraction 0) between polls."""

    def try_split(self, fraction_of_remainder: float) -> Any:
        if fraction_of_remainder > 0:
            return None
        return super().try_split(fraction_of_remainder)

    def is_bounded(self) -> bool:
        return self._range.stop != UNBOUNDED


class _Partitions(RestrictionProvider):
    def initial_restriction(self, element: StartAt) -> OffsetRange:
        return OffsetRange(element.start, element.stop if element.stop is not None
                           else UNBOUNDED)

    def create_tracker(self, restriction: OffsetRange) -> _CheckpointOnly:
        return _CheckpointOnly(restriction)

    def split(self, element: StartAt, restriction: OffsetRange) -> Any:
        yield restriction

    def restriction_size(self, element: StartAt, restriction: OffsetRange) -> int:
        return 1 if restriction.stop == UNBOUNDED else restriction.size()


_RESTRICTION = beam.DoFn.RestrictionParam(_Partitions())
_WATERMARK = beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider())


class _ReadPartition(beam.DoFn):
    def __init__(self, built: _Built, max_records: int) -> None:
        self.built = built
        self.max_records = max_records
        step = built.ctx.step
        self.rows_out = counter(step, "out")
        self.dead = counter(step, "dead_letter")

    @keeps_errors
    def setup(self) -> None:
        reader = self.built.build()
        if not isinstance(reader, PartitionPoller):
            raise TypeError(f"{type(reader).__name__} is no PartitionPoller")
        self.reader: PartitionPoller = reader

    def teardown(self) -> None:
        reader = getattr(self, "reader", None)
        if reader is not None:
            reader.close_poller()

    @beam.DoFn.unbounded_per_element()
    def process(self, element: StartAt, finalizer: Any = beam.DoFn.BundleFinalizerParam,
                tracker: Any = _RESTRICTION, watermark: Any = _WATERMARK):
        # Beam passes the finalizer by position and the tracker and watermark estimator by
        # name (so the finalizer comes first); the error-keeping wrapper goes one level in.
        yield from self._poll(element, tracker, watermark, finalizer)

    @keeps_errors
    def _poll(self, element: StartAt, tracker: Any, watermark: Any, finalizer: Any):

        import time

        polled_at = time.monotonic()
        begin = tracker.current_restriction().start
        stop = tracker.current_restriction().stop
        if begin >= stop:
            tracker.try_claim(stop)
            return
        messages = self.reader.fetch(element.tp, begin, max_records=self.max_records,
                                     timeout=POLL_TIMEOUT)
        claimed: list[Any] = []
        exhausted = False  # a claim failed: the restriction ended (`until:`)
        for message in messages:
            if not tracker.try_claim(self.reader.offset(message)):
                exhausted = True
                break
            claimed.append(message)
        if not claimed:
            if not exhausted:
                tracker.defer_remainder(Duration.of(IDLE_DELAY))
            return
        end = self.reader.offset(claimed[-1]) + 1
        times = [self.reader.event_time_ms(m) for m in claimed]
        oldest = Timestamp.of(min(times) / 1000)
        current = watermark.current_watermark()
        at = oldest if current is None or oldest > current else current
        for item in self.reader.decode(claimed):
            if isinstance(item, Rejected):
                self.dead.inc(item.batch.num_rows)
                yield beam.pvalue.TaggedOutput(DEAD, TimestampedValue(item.batch, at))
            elif item.num_rows:
                self.rows_out.inc(item.num_rows)
                progress.rows_read.add(item.num_rows)
                yield TimestampedValue(item, at)
        watermark.set_watermark(at)
        step, tp, count = element.step, element.tp, len(claimed)
        finalizer.register(lambda: LEDGER.loaded(step, tp, begin, end, count, times,
                                                 polled_at))
        if exhausted:
            return
        if end >= stop:
            tracker.try_claim(stop)  # `until:` reached: this restriction is done
            return
        tracker.defer_remainder()  # end the bundle: the sinks commit this poll


class UnboundedRead(beam.PTransform):
    """The partitions (``StartAt`` elements) read as one unbounded PCollection of Arrow
    batches, with a ``dead_letter`` output (as ``ReadSource``)."""

    def __init__(self, info: ComponentInfo, settings: BaseModel, ctx: RunContext,
                 starts: list[StartAt], max_records: int) -> None:
        super().__init__()
        self.built = _Built(info, settings, ctx)
        self.starts = starts
        self.max_records = max_records

    def expand(self, pbegin):
        return (
            pbegin
            | "Partitions" >> beam.Create(self.starts)
            | "Read" >> beam.ParDo(_ReadPartition(self.built, self.max_records))
            .with_outputs(DEAD, main="rows")
        )
