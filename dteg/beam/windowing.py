"""``window``/``aggregate`` steps on the unbounded pipeline (``dteg stream --runner prism``):
Beam windowing and triggers, so the runner keeps the windows' state.

* The ``window`` step assigns ``window_start``/``window_end`` per row as everywhere
  (``dteg.transforms.window``). A row is late when its window ended ``allowed_lateness`` or
  more before its batch's timestamp (the poll's watermark at read time): it goes to the
  dead-letter output with reason ``late``. Every row that is not late reaches the GroupByKey
  before its window expires (the batch holds the watermark at its own timestamp), so the
  runner never drops a row silently.
* The ``aggregate`` step reduces each batch to partials per window (``Aggregator.partial``),
  keys them by window and assigns each to *that* window (``_DataWindows``: fixed and sliding
  windows are the intervals the window step computed). Trigger: after the watermark, then
  one pane per late arrival until ``allowed_lateness`` has passed, accumulating: every pane
  holds the whole window, so a merge sink keyed on the window upserts the same row again for
  a retried or late pane, never a partial one. Session windows are not on this path yet.
* The commit stage after the sinks: each poll's batches carry the poll's id (schema metadata);
  each pane carries the ids of the polls it holds; a sink reports the panes it committed
  (``_BundleWrite``); a poll's offsets are released to the offset ledger
  (``dteg.beam.unbounded.LEDGER``) only when its read bundle was finalized **and** every
  window it fed is final (``WindowLedger``). The ledger lives in the launcher's process
  (LOOPBACK)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.coders import coders
from apache_beam.transforms import trigger
from apache_beam.transforms.window import GlobalWindows, IntervalWindow, NonMergingWindowFn
from apache_beam.utils.timestamp import Duration, Timestamp

from dteg.beam.aggregate import _Spec
from dteg.beam.io import DEAD, STATS, _Apply, _Built, counter, keeps_errors
from dteg.components.contracts import RunContext, as_batch
from dteg.components.registry import ComponentInfo
from dteg.spec.models import StepSpec
from dteg.transforms.aggregate import AggregateConfig
from dteg.transforms.window import END, START, WindowConfig, event_times

POLL_KEY = b"dteg.poll"  # schema metadata of a read batch: the poll it came from
PANE_KEY = b"dteg.pane"  # schema metadata of a pane: its window and the polls it holds

WindowKey = tuple[str, int, int]  # aggregate step, window start, window end (µs)


def with_poll(batch: pa.RecordBatch, poll: str) -> pa.RecordBatch:
    return batch.replace_schema_metadata({**(batch.schema.metadata or {}), POLL_KEY: poll})


def oldest_event(items: list[Any], config: WindowConfig, step: str) -> int | None:
    """The oldest event time (µs) of a poll's decoded batches (rows without one left out)."""
    found: list[int] = []
    for item in items:
        if isinstance(item, pa.RecordBatch) and item.num_rows and \
                config.event_time in item.column_names:
            value = pc.min(event_times(item, config, step)[0]).as_py()
            if value is not None:
                found.append(int(value))
    return min(found) if found else None


def poll_of(batch: pa.RecordBatch | pa.Table) -> str | None:
    value = (batch.schema.metadata or {}).get(POLL_KEY)
    return value.decode() if value is not None else None


def pane_of(batch: pa.RecordBatch) -> tuple[WindowKey, list[str]] | None:
    value = (batch.schema.metadata or {}).get(PANE_KEY)
    if value is None:
        return None
    data = json.loads(value)
    return (data["step"], data["start"], data["end"]), data["polls"]


def without_marks(batch: pa.RecordBatch) -> pa.RecordBatch:
    meta = batch.schema.metadata
    if not meta or (POLL_KEY not in meta and PANE_KEY not in meta):
        return batch
    kept = {k: v for k, v in meta.items() if k not in (POLL_KEY, PANE_KEY)}
    return batch.replace_schema_metadata(kept or None)


class WindowLedger:
    """Which polls fed which windows, which panes the sinks committed, and which finalized
    polls wait for their windows. A window is *final* when no row can reach it any more
    (the read's watermark, the oldest of every partition's, is ``allowed_lateness`` past its
    end: a later row is dead-lettered as late) and every sink after its aggregate committed
    a pane holding every poll that fed it. ``release`` (the offset ledger's entry) runs once
    per poll, when every window it fed is final: so after a crash every window fed by a
    committed offset is final and recorded (``final``), and a replay rebuilds only windows
    that no committed offset fed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[str, frozenset[str]] = {}
        self._lateness: dict[str, int] = {}
        self._expect: dict[str, set[WindowKey]] = {}
        self._done: dict[tuple[str, WindowKey], set[str]] = {}
        self._waiting: dict[str, Callable[[], None]] = {}
        # partition → its finalized polls' watermark (None: none finalized yet)
        self._watermarks: dict[str, int | None] = {}
        self._final: set[WindowKey] = set()
        self.before: frozenset[WindowKey] = frozenset()  # final in an earlier run

    def reset(self, sinks: dict[str, frozenset[str]], lateness: dict[str, int],
              final: list[WindowKey] | None = None, partitions: list[str] | None = None
              ) -> None:
        """``sinks``/``lateness``: aggregate step → the sinks after it / its window's allowed
        lateness (µs); ``final``: the windows an earlier run of the stream made final (their
        rows are not aggregated again); ``partitions``: every partition read (``step|topic|
        partition``): one that finalized no poll yet holds every window open."""
        with self._lock:
            self._sinks, self._lateness = dict(sinks), dict(lateness)
            self._expect, self._done, self._waiting = {}, {}, {}
            self._watermarks = {p: None for p in partitions or ()}
            self._final = set(final or ())
            self.before = frozenset(self._final)

    def final(self) -> list[WindowKey]:
        """Every final window (the earlier runs' and this one's), the newest last."""
        with self._lock:
            return sorted(self._final, key=lambda w: (w[2], w[1], w[0]))

    def expect(self, poll: str, window: WindowKey) -> None:
        with self._lock:
            self._expect.setdefault(poll, set()).add(window)

    def finalized(self, poll: str, release: Callable[[], None], partition: str,
                  watermark_us: int) -> None:
        with self._lock:
            self._waiting[poll] = release
            known = self._watermarks.get(partition)
            self._watermarks[partition] = watermark_us if known is None else \
                max(known, watermark_us)
            ready = self._ready()
        for call in ready:
            call()

    def committed(self, sink: str, window: WindowKey, polls: list[str]) -> None:
        with self._lock:
            for poll in polls:
                self._done.setdefault((poll, window), set()).add(sink)
            ready = self._ready()
        for call in ready:
            call()

    def drained(self) -> None:
        """The job ended by itself (``until:``): every window fired and was committed."""
        with self._lock:
            self._watermarks = {p: 2 ** 62 for p in self._watermarks} or {"": 2 ** 62}
            ready = self._ready()
        for call in ready:
            call()

    def pending(self) -> int:
        with self._lock:
            return len(self._waiting)

    def _complete(self, poll: str, window: WindowKey) -> bool:
        return self._sinks.get(window[0], frozenset()) <= self._done.get((poll, window), set())

    def _ready(self) -> list[Callable[[], None]]:
        if not self._waiting:
            return []
        marks = list(self._watermarks.values())
        watermark = None if not marks or None in marks else min(m for m in marks
                                                                if m is not None)
        open_ = {w for poll, windows in self._expect.items() for w in windows
                 if not self._complete(poll, w)}
        for windows in self._expect.values():
            for w in windows:
                if w not in self._final and w not in open_ and watermark is not None \
                        and watermark >= w[2] + self._lateness.get(w[0], 0):
                    self._final.add(w)
        ready = []
        for poll in list(self._waiting):
            windows = self._expect.get(poll, set())
            if all(w in self._final for w in windows):
                ready.append(self._waiting.pop(poll))
                self._expect.pop(poll, None)
                for w in windows:
                    self._done.pop((poll, w), None)
        return ready


WINDOWS = WindowLedger()


class _LateByTimestamp(_Apply):
    """The window step: late = the window ended ``allowed_lateness`` before the batch's
    timestamp (the watermark the read held for it)."""

    @keeps_errors
    def setup(self) -> None:
        super().setup()
        config = self.built.settings
        assert isinstance(config, WindowConfig)
        self.lateness = config.lateness_us

    def process(self, batch: pa.RecordBatch, timestamp: Any = beam.DoFn.TimestampParam):
        self.stage.watermark = int(timestamp.micros) - self.lateness
        poll = poll_of(batch)
        for out in super().process(batch):
            if poll is not None and isinstance(out, pa.RecordBatch):
                out = with_poll(out, poll)
            yield out


class WindowStage(beam.PTransform):
    def __init__(self, info: ComponentInfo, settings: WindowConfig, ctx: RunContext) -> None:
        super().__init__()
        self.built = _Built(info, settings, ctx)

    def expand(self, pcoll):
        return pcoll | "Apply" >> beam.ParDo(_LateByTimestamp(self.built)).with_outputs(
            DEAD, STATS, main="rows")


class _DataWindows(NonMergingWindowFn):
    """Each element ``((start, end), value)`` in the interval window [start, end) (µs) the
    window step computed: fixed and sliding windows exactly as on every other path."""

    def assign(self, context: Any) -> list[IntervalWindow]:
        start, end = context.element[0]
        return [IntervalWindow(Timestamp(micros=start), Timestamp(micros=end))]

    def get_window_coder(self) -> coders.Coder:
        return coders.IntervalWindowCoder()


class _KeyByWindow(beam.DoFn):
    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        self.rows_in = counter(spec.ctx.step, "in")
        self.replayed = counter(spec.ctx.step, "replayed_windows")

    def setup(self) -> None:
        self.aggregator = self.spec.build()

    @keeps_errors
    def process(self, batch: pa.RecordBatch) -> Iterator[Any]:
        self.rows_in.inc(batch.num_rows)
        if not batch.num_rows:
            return
        poll = poll_of(batch)
        if poll is None:
            from dteg.errors import StepError

            raise StepError("a batch reached the aggregate without the mark of the poll it "
                            "was read in (a stage between the window and the aggregate "
                            "dropped Arrow schema metadata)", step=self.spec.ctx.step,
                            hint="Run this pipeline with `dteg stream` (micro-batches).")
        partial = self.aggregator.partial(batch)
        starts = partial.column(START).combine_chunks().view(pa.int64())
        ends = partial.column(END).combine_chunks().view(pa.int64())
        step = self.spec.ctx.step
        for start, end in sorted(set(zip(starts.to_pylist(), ends.to_pylist(), strict=True))):
            if (step, start, end) in WINDOWS.before:
                # Read again after a restart, into a window an earlier run committed for
                # good (with these rows in it): aggregating them again would overwrite that
                # window's row with a partial one.
                self.replayed.inc(1)
                continue
            WINDOWS.expect(poll, (step, start, end))
            mask = pc.and_(pc.equal(starts, start), pc.equal(ends, end))
            yield (start, end), (partial.filter(mask), poll)


class _EmitPane(beam.DoFn):
    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        self.rows_out = counter(spec.ctx.step, "out")

    @keeps_errors
    def process(self, element: Any) -> Iterator[Any]:
        (start, end), values = element
        values = list(values)
        aggregator = self.spec.build()
        merged = aggregator.merge([table for table, _ in values])
        if merged is None or not merged.num_rows:
            return
        table = aggregator.output(merged)
        polls = sorted({poll for _, poll in values})
        mark = json.dumps({"step": self.spec.ctx.step, "start": start, "end": end,
                           "polls": polls}).encode()
        self.rows_out.inc(table.num_rows)
        batch = as_batch(table)
        yield batch.replace_schema_metadata({**(batch.schema.metadata or {}), PANE_KEY: mark})


class WindowedAggregate(beam.PTransform):
    """The aggregate step as Beam windows: partials per batch, one GroupByKey per window,
    a pane per firing (on time, then each late arrival within the lateness, then the last)."""

    def __init__(self, settings: AggregateConfig, window: StepSpec, ctx: RunContext) -> None:
        super().__init__()
        self.spec = _Spec(settings, window, ctx)
        config = window.validated()
        assert isinstance(config, WindowConfig)
        self.lateness = Duration(micros=config.lateness_us)

    def expand(self, pcoll: Any) -> Any:
        return (
            pcoll
            | "Partial" >> beam.ParDo(_KeyByWindow(self.spec))
            | "Windows" >> beam.WindowInto(
                _DataWindows(), trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
                accumulation_mode=trigger.AccumulationMode.ACCUMULATING,
                allowed_lateness=self.lateness)
            | "Group" >> beam.GroupByKey()
            | "Emit" >> beam.ParDo(_EmitPane(self.spec))
            # The sinks commit in the global window (their commit results are global).
            | "Global" >> beam.WindowInto(GlobalWindows())
        )
