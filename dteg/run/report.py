"""What a run did: per-step counts from Beam metrics, totals that must reconcile, and the
summary printed at the end of ``dteg run``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dteg.spec.models import PipelineSpec


@dataclass
class StepCounts:
    name: str
    kind: str
    rows_in: int = 0
    rows_out: int = 0
    dead_letter: int = 0
    filtered: int = 0
    loaded: int = 0

    def shown(self) -> tuple[int, int]:
        """(in, out) as the summary shows them: a source has no input, so its "in" is what it
        read (rows out + dead letters); a load's "out" is what it loaded."""
        rows_in = self.rows_out + self.dead_letter if self.kind == "extract" else self.rows_in
        rows_out = self.loaded if self.kind == "load" else self.rows_out
        return rows_in, rows_out

    def to_dict(self) -> dict[str, Any]:
        rows_in, _ = self.shown()
        return {**vars(self), "rows_in": rows_in}


@dataclass(frozen=True)
class SinkBalance:
    """One sink's reconciliation: the rows read by the sources upstream of it equal what it
    loaded plus what the steps on its path dead-lettered or filtered."""

    sink: str
    read: int
    loaded: int
    dead_lettered: int
    filtered: int

    @property
    def reconciles(self) -> bool:
        return self.read == self.loaded + self.dead_lettered + self.filtered

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "reconciles": self.reconciles}

    def render(self) -> str:
        accounted = self.loaded + self.dead_lettered + self.filtered
        if self.reconciles:
            return (f"  {self.sink}: counts reconcile: read {self.read:,} = loaded "
                    f"{self.loaded:,} + dead-lettered {self.dead_lettered:,} + filtered "
                    f"{self.filtered:,}")
        return (f"  WARNING: {self.sink}: counts do not reconcile (read {self.read:,} ≠ "
                f"{accounted:,} loaded + dead-lettered + filtered)")


@dataclass
class RunReport:
    pipeline: str
    run_id: str
    runner: str
    seconds: float
    steps: list[StepCounts]
    dead_letter_target: str
    dead_lettered_stored: int
    targets: dict[str, str] = field(default_factory=dict)
    # Outcomes of steps that run after the loads (dbt), in order.
    post_load: list[Any] = field(default_factory=list)
    # step → [{name, type}] as seen at run time; source schema changes since the last run.
    schemas: dict[str, Any] = field(default_factory=dict)
    drift: list[Any] = field(default_factory=list)
    # Per validate step and rule: rows checked and failed (dteg.quality.report, JSON form).
    quality: dict[str, Any] | None = None

    @property
    def read(self) -> int:
        return sum(s.rows_out + s.dead_letter for s in self.steps if s.kind == "extract")

    @property
    def loaded(self) -> int:
        return sum(s.loaded for s in self.steps if s.kind == "load")

    @property
    def dead_lettered(self) -> int:
        return sum(s.dead_letter for s in self.steps)

    @property
    def filtered(self) -> int:
        return sum(s.filtered for s in self.steps)

    def balances(self, spec: PipelineSpec) -> list[SinkBalance]:
        """Per sink: read (by its upstream sources) = loaded + dead-lettered + filtered (on
        its path), for each sink where that is well defined: every step on its path moves
        rows one to one (no grouping, no join of several inputs)."""
        counts = {s.name: s for s in self.steps}
        out = []
        for sink in spec.sinks():
            path = _upstream(spec, sink.name)
            if path is None or sink.name not in counts:
                continue
            steps = [counts[name] for name in path if name in counts]
            out.append(SinkBalance(
                sink=sink.name,
                read=sum(s.rows_out + s.dead_letter for s in steps if s.kind == "extract"),
                loaded=counts[sink.name].loaded,
                dead_lettered=sum(s.dead_letter for s in steps),
                filtered=sum(s.filtered for s in steps)))
        return out

    def reconciles(self, spec: PipelineSpec) -> bool | None:
        """Whether every sink that can be checked reconciles (None: none can be)."""
        balances = self.balances(spec)
        if not balances:
            return None
        return all(b.reconciles for b in balances)

    def render(self, spec: PipelineSpec) -> str:
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"pipeline {self.pipeline} · run {self.run_id} · {self.runner} runner · "
            f"{self.seconds:.1f}s",
            "",
            f"  {'step':<24}{'in':>12}{'out':>12}{'dead-letter':>13}{'filtered':>10}",
        ]
        for s in self.steps:
            rows_in, rows_out = s.shown()
            lines.append(f"  {s.name:<24}{rows_in:>12,}{rows_out:>12,}{s.dead_letter:>13,}"
                         f"{s.filtered:>10,}")
        lines += [
            "",
            f"  read {self.read:,} · loaded {self.loaded:,} · dead-lettered "
            f"{self.dead_lettered:,} · filtered {self.filtered:,} · {rate:,.0f} rows/s",
        ]
        balances = self.balances(spec)
        if len(balances) == 1 and len(spec.sinks()) == 1:
            only = balances[0]
            lines.append("  counts reconcile: read = loaded + dead-lettered + filtered"
                         if only.reconciles else "  WARNING: counts do not reconcile "
                         f"({only.read:,} ≠ "
                         f"{only.loaded + only.dead_lettered + only.filtered:,})")
        else:
            lines += [b.render() for b in balances]
        loaded = {s.name: s.loaded for s in self.steps if s.kind == "load"}
        for step, target in self.targets.items():
            # The rows each load wrote, so a load of none does not pass for a full one.
            count = loaded.get(step)
            rows = "" if count is None else f" ({count:,} row{'' if count == 1 else 's'})"
            if count == 0 and _partitioned_by_column(target):
                rows = " (0 rows: no partition written; the existing ones are unchanged)"
            lines.append(f"  {step} → {target}{rows}")
        for drift in self.drift:
            lines.append(f"  WARNING: {drift.describe()}")
        for outcome in self.post_load:
            lines.append(f"  {outcome.step}: {outcome.summary()}")
        if self.dead_lettered_stored:
            lines.append(f"  dead letters ({self.dead_lettered_stored:,}) → "
                         f"{self.dead_letter_target}")
        if self.quality:
            from dteg.quality.report import render_quality

            lines += render_quality(self.quality)
        return "\n".join(lines)


def _upstream(spec: PipelineSpec, sink: str) -> set[str] | None:
    """The steps whose rows reach ``sink`` (itself included), or None when its counts cannot
    balance: a step on the path groups rows, or joins several inputs into one row."""
    seen: set[str] = set()
    todo = [sink]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        step = spec.step(name)
        caps = step.capabilities
        if caps.stateful or caps.role == "aggregate":
            return None  # rows are grouped (or repeated per sliding window), not moved
        if len(step.inputs) > 1 and not step.is_sink:
            return None  # a join: one row out of several in
        todo.extend(step.inputs)
    return seen


def _partitioned_by_column(target: str) -> bool:
    """A file target split by a column's values (``out/orders/{country}/``)."""
    if "{" not in target:
        return False
    from dteg.connectors.partitions import parse
    from dteg.errors import DtegError

    try:
        return bool(parse(target).columns)
    except DtegError:
        return False
