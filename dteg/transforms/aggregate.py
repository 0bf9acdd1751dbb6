"""``- aggregate:``: group rows and compute metrics, per event-time window when a ``window``
step comes before it.

    - aggregate:
        group_by: [country]
        metrics: {orders: count, revenue: sum(amount), biggest: max(amount), avg: avg(amount)}

Works in two steps so that it can run on batches and across micro-batches: each batch is
reduced to *partials* (count, sum, min, max per group and window), partials are merged
(sums of sums, …), and a window's row is emitted once the watermark passes its end — at the
end of a bounded run every window is emitted. Pure pyarrow; the Beam part is
``dteg.beam.aggregate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dteg.transforms.window import END, START, TIME_TYPE, WindowConfig, event_times

_METRIC = re.compile(r"^\s*(count|sum|min|max|avg|mean)\s*(?:\(\s*(\*|[^()\s]+)?\s*\))?\s*$",
                     re.I)
MAX_EVENT = "__dteg_max_event"


@dataclass(frozen=True)
class Metric:
    name: str
    func: str  # count, sum, min, max, avg
    column: str | None  # None: count of rows

    def partials(self) -> list[tuple[str, str, str]]:
        """(partial column, how a batch computes it, how partials merge)."""
        p = f"__dteg_{self.name}"
        if self.func == "count":
            return [(f"{p}_n", "count_all" if self.column is None else "count", "sum")]
        if self.func == "avg":
            return [(f"{p}_sum", "sum", "sum"), (f"{p}_n", "count", "sum")]
        return [(f"{p}_{self.func}", self.func, self.func)]


def parse_metric(name: str, text: str) -> Metric:
    match = _METRIC.match(text)
    if not match:
        raise ValueError(f"metric `{name}: {text}` is not count, count(col), sum(col), "
                         "min(col), max(col) or avg(col)")
    func = match.group(1).lower().replace("mean", "avg")
    column = match.group(2)
    if column == "*":
        column = None
    if func != "count" and column is None:
        raise ValueError(f"metric `{name}: {text}` needs a column, e.g. {func}(amount)")
    return Metric(name, func, column)


class AggregateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_by: list[str] | str = Field(default_factory=list,
                                      description="Columns to group by (besides the window)")
    metrics: dict[str, str] = Field(
        min_length=1, description="Output column → count, count(col), sum(col), min(col), "
        "max(col) or avg(col)")

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            parse_metric(name, str(text))
        return value

    def keys(self) -> list[str]:
        return [self.group_by] if isinstance(self.group_by, str) else list(self.group_by)

    def parsed(self) -> list[Metric]:
        return [parse_metric(n, str(t)) for n, t in self.metrics.items()]


class Aggregator:
    """Partials, merging and output rows for one aggregate step (and its window, if any)."""

    def __init__(self, config: AggregateConfig, window: WindowConfig | None, step: str) -> None:
        self.config = config
        self.window = window
        self.step = step
        self.metrics = config.parsed()
        self.group = config.keys()
        self.keys = ([START, END] if window else []) + self.group

    # --- one batch → partials -----------------------------------------------------------

    def partial(self, batch: pa.RecordBatch) -> pa.Table:
        table = pa.Table.from_batches([batch])
        missing = [c for c in self.keys + [m.column for m in self.metrics if m.column]
                   if c not in table.column_names]
        if missing:
            from dteg.errors import StepError

            raise StepError(
                f"column(s) {missing} are not in the data (columns: "
                f"{', '.join(table.column_names)})", step=self.step,
                hint="Fix `group_by:`/`metrics:`; a window step before this one adds "
                "window_start and window_end.")
        specs: list[tuple[str | list[str], str]] = []
        names: list[str] = []
        for metric in self.metrics:
            for name, how, _ in metric.partials():
                specs.append(([], how) if how == "count_all" else (str(metric.column), how))
                names.append(name)
        if self.window is not None:
            times, _ = event_times(table, self.window, self.step)
            table = table.append_column(MAX_EVENT, times)
            specs.append((MAX_EVENT, "max"))
            names.append(MAX_EVENT)
        if self.window is not None and self.window.type == "session":
            table = self._sessions_in_batch(table)
        grouped = table.group_by(self.keys, use_threads=False).aggregate(specs)
        return _rename(grouped, self.keys, names)

    def _sessions_in_batch(self, table: pa.Table) -> pa.Table:
        """Rows of one group closer than `gap` join one session: start = first event,
        end = last event + gap."""
        order = [(k, "ascending") for k in self.group] + [(START, "ascending")]
        table = table.sort_by(order)
        starts = table.column(START).combine_chunks().view(pa.int64()) \
            if table.num_rows else pa.array([], pa.int64())
        ids = _session_ids(table, self.group, starts.to_pylist(), self.window.gap_us)  # type: ignore[union-attr]
        table = table.append_column("__dteg_session", pa.array(ids, pa.int64()))
        # Session ids are unique across groups, so the bounds join on the id alone (a join
        # on the group columns would drop rows whose key is null).
        bounds = table.group_by(["__dteg_session"], use_threads=False).aggregate(
            [(START, "min"), (END, "max")])
        bounds = _rename(bounds, ["__dteg_session"], [START, END])
        table = table.drop_columns([START, END])
        return table.join(bounds, "__dteg_session", use_threads=False) \
            .drop_columns(["__dteg_session"])

    # --- partials → partials ------------------------------------------------------------

    def merge(self, partials: list[pa.Table]) -> pa.Table | None:
        tables = [p for p in partials if p is not None and p.num_rows]
        if not tables:
            # Partials of zero rows still have the partials' types, so the output of no
            # groups keeps its columns (a `replace` of it leaves an empty target).
            return next((p for p in partials if p is not None), None)
        table = pa.concat_tables(tables, promote_options="permissive")
        if self.window is not None and self.window.type == "session":
            table = self._merge_sessions(table)
        specs: list[tuple[str, str]] = []
        names: list[str] = []
        for metric in self.metrics:
            for name, _, merge in metric.partials():
                specs.append((name, merge))
                names.append(name)
        if self.window is not None:
            specs.append((MAX_EVENT, "max"))
            names.append(MAX_EVENT)
        grouped = table.group_by(self.keys, use_threads=False).aggregate(specs)
        return _rename(grouped, self.keys, names)

    def _merge_sessions(self, table: pa.Table) -> pa.Table:
        """Sessions of one group that overlap (from different batches) become one."""
        table = table.sort_by([(k, "ascending") for k in self.group] + [(START, "ascending")])
        starts = table.column(START).combine_chunks().view(pa.int64()).to_pylist()
        ends = table.column(END).combine_chunks().view(pa.int64()).to_pylist()
        keys = list(zip(*(table.column(k).to_pylist() for k in self.group), strict=True)) \
            if self.group else [()] * table.num_rows
        ids, new_start, new_end = [], [], []
        current = -1
        group_start: list[int] = []
        group_end: list[int] = []
        last_key: object = object()
        for key, start, end in zip(keys, starts, ends, strict=True):
            if key != last_key or start >= group_end[-1]:
                current += 1
                group_start.append(start)
                group_end.append(end)
                last_key = key
            else:
                group_end[-1] = max(group_end[-1], end)
            ids.append(current)
        for i in ids:
            new_start.append(group_start[i])
            new_end.append(group_end[i])
        table = table.set_column(table.schema.get_field_index(START), START,
                                 pa.array(new_start, pa.int64()).view(TIME_TYPE))
        return table.set_column(table.schema.get_field_index(END), END,
                                pa.array(new_end, pa.int64()).view(TIME_TYPE))

    # --- partials → output rows ---------------------------------------------------------

    def split(self, merged: pa.Table | None, watermark: int | None
              ) -> tuple[pa.Table | None, pa.Table | None]:
        """(closed, still open): windows that ended at or before ``watermark`` are closed;
        ``None`` closes every window (the end of a bounded run)."""
        if merged is None:
            return None, None
        if watermark is None or self.window is None:
            return merged, None
        ends = merged.column(END).combine_chunks().view(pa.int64())
        closed = pc.less_equal(ends, watermark)
        return merged.filter(closed), merged.filter(pc.invert(closed))

    def output(self, partials: pa.Table) -> pa.Table:
        columns: dict[str, pa.Array | pa.ChunkedArray] = {
            k: partials.column(k) for k in self.keys}
        for metric in self.metrics:
            p = f"__dteg_{metric.name}"
            if metric.func == "count":
                columns[metric.name] = partials.column(f"{p}_n").cast(pa.int64())
            elif metric.func == "avg":
                total = partials.column(f"{p}_sum").cast(pa.float64())
                count = partials.column(f"{p}_n").cast(pa.float64())
                columns[metric.name] = pc.if_else(pc.greater(count, 0),
                                                  pc.divide(total, count), None)
            else:
                columns[metric.name] = partials.column(f"{p}_{metric.func}")
        table = pa.table(columns)
        if self.window is not None:
            table = table.sort_by([(START, "ascending")] +
                                  [(k, "ascending") for k in self.group])
        return table

    def max_event(self, partials: pa.Table | None) -> int | None:
        if partials is None or self.window is None or MAX_EVENT not in partials.column_names:
            return None
        value = pc.max(partials.column(MAX_EVENT)).as_py()
        return int(value) if value is not None else None


def _rename(grouped: pa.Table, keys: list[str], names: list[str]) -> pa.Table:
    """Keys, then the partials under our own names. pyarrow names aggregates
    `<column>_<function>` (two can share a name) and puts the keys first (before pyarrow 15:
    last), so columns are taken by position."""
    n = len(keys)
    keys_first = grouped.column_names[:n] == keys
    key_columns = [grouped.column(i) for i in (range(n) if keys_first
                                                else range(len(names), len(names) + n))]
    aggregates = [grouped.column(i) for i in (range(n, n + len(names)) if keys_first
                                               else range(len(names)))]
    return pa.Table.from_arrays([*key_columns, *aggregates], names=[*keys, *names])


def _session_ids(table: pa.Table, group: list[str], starts: list[int], gap: int) -> list[int]:
    keys = list(zip(*(table.column(k).to_pylist() for k in group), strict=True)) \
        if group else [()] * table.num_rows
    ids: list[int] = []
    current = -1
    last_key: object = object()
    last_time = 0
    for key, start in zip(keys, starts, strict=True):
        if key != last_key or start >= last_time + gap:
            current += 1
            last_key = key
        last_time = start
        ids.append(current)
    return ids


def create(config: AggregateConfig, ctx: Any) -> Aggregator:
    """The aggregation logic; the compiler runs it through ``dteg.beam.aggregate``."""
    return Aggregator(config, None, ctx.step)
