"""``- window:``: event-time windows. Each row gets ``window_start`` / ``window_end`` (UTC) from
its event-time column; a following ``- aggregate:`` step groups by them.

* ``fixed``: [k·size, (k+1)·size); ``sliding``: windows of ``size`` starting every ``every``
  (a row lands in each window that holds it); ``session``: [t, t+gap) per row, merged by the
  aggregate step into sessions per group.
* In a stream, the watermark is the largest event time seen in earlier micro-batches minus
  ``allowed_lateness``. A row whose windows all ended at or before the watermark is late: it
  goes to the dead-letter output with reason ``late``. A bounded run has no late rows (its end
  is the final watermark).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dteg.components.contracts import BatchTransform, RunContext, StageResult
from dteg.components.records import dead_letters, row_json, sources_of
from dteg.errors import StepError

START, END = "window_start", "window_end"
US = 1_000_000
_UNITS = {"ms": 1_000, "s": US, "sec": US, "m": 60 * US, "min": 60 * US, "h": 3600 * US,
          "d": 86_400 * US, "us": 1}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|us|s|sec|m|min|h|d)?\s*$")
TIME_TYPE = pa.timestamp("us", tz="UTC")


def parse_duration(value: str | float | int) -> int:
    """``"1m"``, ``"30s"``, ``"500ms"``, ``"2h"``, ``"1d"`` or seconds → microseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(float(value) * US)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"`{value}` is not a duration (e.g. 500ms, 30s, 5m, 1h, 1d)")
    return round(float(match.group(1)) * _UNITS[match.group(2) or "s"])


class WindowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["fixed", "sliding", "session"] = Field(
        default="fixed", description="fixed (tumbling), sliding (hopping) or session")
    event_time: str = Field(description="The column holding each row's event time "
                            "(timestamp, ISO text, or epoch number in event_time_unit)")
    event_time_unit: Literal["s", "ms", "us"] = Field(
        default="ms", description="Unit of a numeric event-time column")
    size: str | float | None = Field(default=None,
                                     description="fixed/sliding: window length (1m, 30s, …)")
    every: str | float | None = Field(
        default=None, description="sliding: how often a window starts (default: size)")
    gap: str | float | None = Field(
        default=None, description="session: a session ends after this long without events")
    allowed_lateness: str | float = Field(
        default=0, description="How far behind the largest event time seen a row may be and "
        "still count (the watermark is max event time - allowed_lateness)")

    @field_validator("size", "every", "gap", "allowed_lateness")
    @classmethod
    def _duration(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _shape(self) -> WindowConfig:
        if self.type == "session":
            if self.gap is None:
                raise ValueError("a session window needs `gap:` (e.g. gap: 30m)")
            if self.size is not None or self.every is not None:
                raise ValueError("a session window has `gap:`, not `size:`/`every:`")
            if self.gap_us <= 0:
                raise ValueError("`gap:` must be positive")
            return self
        if self.size is None:
            raise ValueError(f"a {self.type} window needs `size:` (e.g. size: 1m)")
        if self.gap is not None:
            raise ValueError("`gap:` is for session windows")
        if self.type == "fixed" and self.every is not None:
            raise ValueError("`every:` is for sliding windows")
        if self.size_us <= 0 or self.every_us <= 0:
            raise ValueError("`size:` and `every:` must be positive")
        if self.every_us > self.size_us:
            raise ValueError("`every:` longer than `size:` would leave rows in no window")
        return self

    @property
    def size_us(self) -> int:
        return parse_duration(self.size) if self.size is not None else 0

    @property
    def every_us(self) -> int:
        return parse_duration(self.every) if self.every is not None else self.size_us

    @property
    def gap_us(self) -> int:
        return parse_duration(self.gap) if self.gap is not None else 0

    @property
    def lateness_us(self) -> int:
        return parse_duration(self.allowed_lateness)


def event_times(batch: pa.RecordBatch | pa.Table, config: WindowConfig, step: str
                ) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Event times as int64 µs since the epoch (UTC), and (row, reason) of rows without one."""
    if config.event_time not in batch.column_names:
        raise StepError(
            f"the event-time column `{config.event_time}` is not in the data (columns: "
            f"{', '.join(batch.column_names)})", step=step, hint="Fix `event_time:`.")
    column = batch.column(config.event_time)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_timestamp(kind):
        micros = column.cast(pa.timestamp("us", tz=kind.tz)).view(pa.int64()) \
            if kind.unit != "us" else column.view(pa.int64())
    elif pa.types.is_date(kind):
        micros = column.cast(pa.timestamp("us")).view(pa.int64())
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        scale = {"s": US, "ms": 1_000, "us": 1}[config.event_time_unit]
        micros = pc.cast(pc.multiply(column.cast(pa.float64()), scale), pa.int64(), safe=False) \
            if pa.types.is_floating(kind) else pc.multiply(column.cast(pa.int64()), scale)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        micros = _parse_text(column)
    else:
        raise StepError(f"the event-time column `{config.event_time}` has type {kind}, "
                        "not a timestamp, ISO text or epoch number", step=step)
    missing = [(i, f"column `{config.event_time}`: no event time"
                if column[i].as_py() is None else
                f"column `{config.event_time}`: {column[i].as_py()!r} is not a timestamp")
               for i in pc.indices_nonzero(pc.is_null(micros)).to_pylist()]
    return micros, missing


def _parse_text(column: pa.Array) -> pa.Array:
    try:
        return column.cast(TIME_TYPE).view(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = []
        for value in column.to_pylist():
            try:
                values.append(pa.scalar(value, pa.string()).cast(TIME_TYPE).value
                              if value is not None else None)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                values.append(None)
        return pa.array(values, pa.int64())


def to_time(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros)


def assign(times: pa.Array, config: WindowConfig) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(row index, window start, window end), µs; a row appears once per window holding it."""
    rows = pa.array(range(len(times)), pa.int64())
    if config.type == "session":
        return rows, times, pc.add(times, config.gap_us)
    size, every = config.size_us, config.every_us
    base = pc.multiply(_floor_div(times, every), every)
    if config.type == "fixed" or every == size:
        return rows, base, pc.add(base, size)
    parts_rows, parts_start = [], []
    for j in reversed(range(math.ceil(size / every))):  # a row's windows, earliest first
        starts = pc.subtract(base, j * every)
        holds = pc.greater(pc.add(starts, size), times)
        parts_rows.append(rows.filter(holds))
        parts_start.append(starts.filter(holds))
    all_rows = pa.concat_arrays(parts_rows)
    starts = pa.concat_arrays(parts_start)
    order = pc.sort_indices(all_rows)  # keep row order (windows of a row together)
    starts = starts.take(order)
    return all_rows.take(order), starts, pc.add(starts, size)


def _floor_div(values: pa.Array, divisor: int) -> pa.Array:
    """Floor division for int64 (pyarrow's divide truncates toward zero)."""
    quotient = pc.divide(values, divisor)
    fix = pc.and_(pc.less(values, 0), pc.not_equal(pc.multiply(quotient, divisor), values))
    return pc.if_else(fix, pc.subtract(quotient, 1), quotient)


class WindowAssign(BatchTransform):
    def __init__(self, config: WindowConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.watermark: int | None = None

    def setup(self) -> None:
        # In a stream, rows are checked against the watermark the last micro-batch left in
        # the checkpoint (read at run time: the same Beam graph runs every micro-batch).
        from dteg.transforms import checkpoint

        folder = self.ctx.plan.checkpoint_dir
        if folder is not None:
            self.watermark = checkpoint.load(folder).watermarks.get(self.ctx.step)

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        for name in (START, END):
            if name in batch.column_names:
                raise StepError(f"the data already has a `{name}` column", step=self.ctx.step,
                                hint="Rename or drop it before the window step.")
        times, missing = event_times(batch, self.config, self.ctx.step)
        rows, starts, ends = assign(times, self.config)
        bad: dict[int, tuple[str, str | None]] = {i: (reason, None) for i, reason in missing}
        if bad:
            ok = pc.invert(pc.is_in(rows, pa.array(list(bad), pa.int64())))
            rows, starts, ends = rows.filter(ok), starts.filter(ok), ends.filter(ok)
        if self.watermark is not None and len(rows):
            on_time = pc.greater(ends, self.watermark)
            late_rows = set(rows.filter(pc.invert(on_time)).to_pylist())
            if late_rows and self.config.type == "sliding":
                # Late in some windows but on time in a later one: the row still counts there.
                late_rows -= set(rows.filter(on_time).to_pylist())
            rule = f"watermark {to_time(self.watermark).isoformat()}"
            bad.update((i, ("late", rule)) for i in late_rows)
            rows, starts, ends = rows.filter(on_time), starts.filter(on_time), ends.filter(on_time)
        kept = batch.take(rows)
        kept = kept.append_column(START, starts.cast(pa.int64()).view(TIME_TYPE))
        kept = kept.append_column(END, ends.cast(pa.int64()).view(TIME_TYPE))
        rejected = None
        if bad:
            order = sorted(bad)
            late = batch.take(pa.array(order, pa.int64()))
            rows_out = late.to_pylist()
            rejected = dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[bad[i][0] for i in order], rules=[bad[i][1] for i in order],
                columns=[self.config.event_time] * len(order),
                records=[row_json(r, self.ctx.mask_row) for r in rows_out],
                sources=sources_of(late))
        return StageResult(kept=kept, rejected=rejected)


def create(config: WindowConfig, ctx: RunContext) -> WindowAssign:
    return WindowAssign(config, ctx)
