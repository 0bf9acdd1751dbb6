"""``dteg backfill``: run a pipeline over bounded partitions of its sources' cursor range,
in order, recording each finished partition in the state store, so a second invocation with
the same range resumes at the first unfinished partition.

A partition is half-open, ``start <= cursor < end``; the regular incremental cursor is not
touched. Each partition is an ordinary run (its own run id, report and atomic commits), and
its completion is saved exactly like a cursor: only after every sink committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dteg.components.plan import (
    BackfillMark,
    Bounds,
    RunPlan,
    StepPlan,
    decode_value,
    encode_value,
    render_value,
)
from dteg.components.settings import cursor_column
from dteg.errors import ConfigError
from dteg.run.state import open_store
from dteg.spec.models import PipelineSpec

_STEP = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Partition:
    index: int
    lower: Any
    upper: Any

    def describe(self) -> str:
        return f"[{render_value(self.lower)}, {render_value(self.upper)})"


def parse_bound(text: str, option: str) -> int | dt.date | dt.datetime:
    """``--start``/``--end``: an integer, a date (2024-01-31) or a timestamp."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"`{option} {text}` is neither a number, a date (2024-01-31) nor a "
                          "timestamp (2024-01-31T12:00:00)") from None


def parse_step(text: str, numeric: bool) -> int | dt.timedelta:
    """``--step``: ``1d``, ``6h``, ``30m``, ``1w``, ``90s``; a plain number for numeric
    cursors."""
    match = _STEP.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(f"`--step {text}` is not a step",
                          hint="Use e.g. 1d, 6h, 30m, 1w, or a positive number for numeric "
                          "cursors.")
    amount, unit = int(match.group(1)), match.group(2)
    if numeric:
        if unit:
            raise ConfigError(f"`--step {text}`: the range is numeric, so the step is a "
                              "plain number")
        return amount
    return dt.timedelta(**{_UNITS[unit or "d"]: amount})


def plan_partitions(start: Any, end: Any, step: int | dt.timedelta) -> list[Partition]:
    if type(start) is not type(end):
        if isinstance(start, dt.date) and isinstance(end, dt.date):
            start, end = _as_datetime(start), _as_datetime(end)
        else:
            raise ConfigError("`--start` and `--end` must be the same kind of value")
    if not start < end:
        raise ConfigError(f"`--start` ({render_value(start)}) must come before `--end` "
                          f"({render_value(end)})")
    if isinstance(start, dt.date) and not isinstance(start, dt.datetime) and isinstance(
            step, dt.timedelta) and step % dt.timedelta(days=1):
        start, end = _as_datetime(start), _as_datetime(end)
    partitions: list[Partition] = []
    lower = start
    while lower < end:
        upper = min(lower + step, end)
        partitions.append(Partition(len(partitions), lower, upper))
        lower = upper
    return partitions


def _as_datetime(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day)


def backfill_id(spec: PipelineSpec, partitions: list[Partition]) -> str:
    text = "|".join(f"{render_value(p.lower)}|{render_value(p.upper)}" for p in partitions)
    return hashlib.sha1(f"{spec.name}|{text}".encode()).hexdigest()[:10]


def incremental_sources(spec: PipelineSpec) -> dict[str, str]:
    """step → cursor column, for every source that reads by a cursor."""
    found = {}
    for step in spec.sources():
        column = cursor_column(step.settings) if step.capabilities.incremental else None
        if column is not None:
            found[step.name] = column
    return found


def no_cursor_hint(spec: PipelineSpec) -> str:
    """What to do when no source reads by a cursor: add one to a source that can (capability
    ``incremental``), or read from such a source — a file source has no cursor."""
    from dteg.components.registry import default_registry

    able = [s for s in spec.sources() if s.capabilities.incremental]
    if able:
        steps = ", ".join(f"`{s.name}`" for s in able)
        return (f"Add `incremental: {{cursor: updated_at}}` (the column to partition on) to "
                f"the config of {steps}.")
    types = sorted({c.name for c in default_registry().components
                    if c.kind == "source" and c.capabilities.incremental})
    used = ", ".join(sorted({f"`{s.type}`" for s in spec.sources()}))
    return (f"This pipeline's source type(s) {used} cannot read by a cursor; backfill needs "
            f"a source that can ({', '.join(f'`{t}`' for t in types)}) with "
            "`incremental: {cursor: updated_at}` in its config. To reload files, run "
            "`dteg run` on the files of the period instead.")


def partition_plan(sources: dict[str, str], partition: Partition, key: str,
                   run_id: str) -> RunPlan:
    """The plan that runs one partition: bounds for each source, and the state entry that
    marks the partition done once every sink committed."""
    steps = {step: StepPlan(bounds=Bounds(column, partition.lower, partition.upper,
                                          lower_inclusive=True, upper_inclusive=False))
             for step, column in sources.items()}
    mark = BackfillMark(key, {"lower": encode_value(partition.lower),
                              "upper": encode_value(partition.upper),
                              "index": partition.index})
    return RunPlan(run_id=run_id, steps=steps, backfill=mark)


Execute = Callable[[RunPlan], Any]


@dataclass(frozen=True)
class BackfillPlan:
    """The partitions of one backfill range and which of them are still to run."""

    id: str
    pipeline: str
    sources: dict[str, str]  # step → cursor column
    lower: Any
    upper: Any
    partitions: list[Partition]
    done: dict[str, Any]  # state key → the entry of a partition finished earlier

    def key(self, partition: Partition) -> str:
        return f"backfill:{self.id}:{partition.index:06d}"

    def pending(self) -> list[Partition]:
        return [p for p in self.partitions if self.key(p) not in self.done]

    def describe(self) -> str:
        return (f"backfill {self.id} of {self.pipeline}: {len(self.partitions)} partition(s) of "
                f"{', '.join(f'{s}.{c}' for s, c in self.sources.items())} from "
                f"{render_value(self.lower)} to {render_value(self.upper)}"
                + (f", {len(self.done)} already done" if self.done else ""))


def plan_backfill(spec: PipelineSpec, start: str, end: str, step: str,
                  restart: bool = False) -> BackfillPlan:
    """Check the range and find the partitions finished earlier (``restart``: forget them)."""
    sources = incremental_sources(spec)
    if not sources:
        raise ConfigError(f"{spec.file}: backfill needs a source with "
                          "`incremental: {cursor: …}`", hint=no_cursor_hint(spec))
    lower, upper = parse_bound(start, "--start"), parse_bound(end, "--end")
    partitions = plan_partitions(lower, upper, parse_step(step, isinstance(lower, int)))
    bid = backfill_id(spec, partitions)
    store = open_store(spec)
    prefix = f"backfill:{bid}:"
    if restart:
        store.delete(spec.name, prefix)
    done = {e.key: e for e in store.entries(spec.name, prefix)}
    return BackfillPlan(bid, spec.name, sources, lower, upper, partitions, done)


def run_backfill(spec: PipelineSpec, start: str, end: str, step: str, *, execute: Execute,
                 new_run_id: Callable[[], str], say: Callable[[str], None],
                 restart: bool = False) -> tuple[int, int]:
    """Run every unfinished partition in order; returns (partitions run, skipped)."""
    plan = plan_backfill(spec, start, end, step, restart)
    say(f"{plan.describe()}")
    ran = skipped = 0
    for partition in plan.partitions:
        key = plan.key(partition)
        label = f"  {partition.index + 1}/{len(plan.partitions)} {partition.describe()}"
        if key in plan.done:
            say(f"{label} done earlier (run {plan.done[key].run_id})")
            skipped += 1
            continue
        run_id = new_run_id()
        report = execute(partition_plan(plan.sources, partition, key, run_id))
        ran += 1
        say(f"{label} read {report.read:,}, loaded {report.loaded:,} (run {run_id})")
    return ran, skipped


def partition_params(plan: BackfillPlan, partition: Partition) -> dict[str, Any]:
    """One partition as JSON, for a server run (``partition_from_params`` reads it back)."""
    return {"backfill": {"id": plan.id, "key": plan.key(partition), "index": partition.index,
                         "lower": encode_value(partition.lower),
                         "upper": encode_value(partition.upper), "sources": plan.sources}}


def plan_from_params(params: dict[str, Any], run_id: str) -> RunPlan:
    """The run plan of a partition that a server run carries."""
    data = params["backfill"]
    partition = Partition(int(data["index"]), decode_value(data["lower"]),
                          decode_value(data["upper"]))
    return partition_plan(dict(data["sources"]), partition, str(data["key"]), run_id)


def describe_entry(key: str, value: dict[str, Any]) -> str:
    """One state entry for `dteg state show`."""
    if key.startswith("cursor:"):
        return f"{value.get('column')} = {render_value(decode_value(value.get('value')))}"
    if key.startswith("backfill:"):
        return (f"partition [{render_value(decode_value(value.get('lower')))}, "
                f"{render_value(decode_value(value.get('upper')))}) done")
    return str(value)
