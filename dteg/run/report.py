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

    def reconciles(self, spec: PipelineSpec) -> bool | None:
        """read = loaded + dead-lettered + filtered, checked where it is well defined: one
        source and one load, with no step that fans out."""
        sinks = [s for s in self.steps if s.kind == "load"]
        if len(spec.sources()) != 1 or len(sinks) != 1:
            return None
        if any(len(spec.consumers(s.name)) > 1 for s in spec.steps):
            return None
        if any(s.capabilities.stateful or s.capabilities.role == "aggregate"
               for s in spec.steps):
            return None  # rows are grouped (or repeated per sliding window), not moved
        return self.read == self.loaded + self.dead_lettered + self.filtered

    def render(self, spec: PipelineSpec) -> str:
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"pipeline {self.pipeline} · run {self.run_id} · {self.runner} runner · "
            f"{self.seconds:.1f}s",
            "",
            f"  {'step':<24}{'in':>12}{'out':>12}{'dead-letter':>13}{'filtered':>10}",
        ]
        for s in self.steps:
            rows_in = s.rows_out + s.dead_letter if s.kind == "extract" else s.rows_in
            rows_out = s.loaded if s.kind == "load" else s.rows_out
            lines.append(f"  {s.name:<24}{rows_in:>12,}{rows_out:>12,}{s.dead_letter:>13,}"
                         f"{s.filtered:>10,}")
        lines += [
            "",
            f"  read {self.read:,} · loaded {self.loaded:,} · dead-lettered "
            f"{self.dead_lettered:,} · filtered {self.filtered:,} · {rate:,.0f} rows/s",
        ]
        check = self.reconciles(spec)
        if check is True:
            lines.append("  counts reconcile: read = loaded + dead-lettered + filtered")
        elif check is False:
            lines.append("  WARNING: counts do not reconcile "
                         f"({self.read:,} ≠ {self.loaded + self.dead_lettered + self.filtered:,})")
        loaded = {s.name: s.loaded for s in self.steps if s.kind == "load"}
        for step, target in self.targets.items():
            # The rows each load wrote, so a load of none does not pass for a full one.
            rows = f" ({loaded[step]:,} rows)" if step in loaded else ""
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
