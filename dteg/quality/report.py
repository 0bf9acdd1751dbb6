"""The quality report of a run: per validate step and rule, how many rows failed.

Built from the Beam counters the validate stages keep (``<step>:in``, ``<step>:dead_letter``,
``<step>:filtered``, ``<step>:rule:<label>:failed``) and the rules in the spec, so a rule that
failed nothing is listed too. ``dteg run`` prints it under the counts and writes it into
``--report-json`` as ``quality``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dteg.spec.models import PipelineSpec


@dataclass
class RuleOutcome:
    rule: str
    type: str
    columns: list[str]
    on_failure: str
    failed: int
    max_invalid_ratio: float | None = None

    def ratio(self, rows: int) -> float:
        return self.failed / rows if rows else 0.0


@dataclass
class StepQuality:
    step: str
    rows: int
    invalid: int
    max_invalid_ratio: float | None
    rules: list[RuleOutcome] = field(default_factory=list)

    @property
    def invalid_ratio(self) -> float:
        return self.invalid / self.rows if self.rows else 0.0


@dataclass
class QualityReport:
    steps: list[StepQuality]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``--report-json``'s ``quality``, run records, lineage facets)."""
        return {"steps": [
            {**asdict(s), "invalid_ratio": round(s.invalid_ratio, 6),
             "rules": [{**asdict(r), "ratio": round(r.ratio(s.rows), 6)} for r in s.rules]}
            for s in self.steps]}


def render_quality(data: dict[str, Any]) -> list[str]:
    """The quality table of the run summary, from ``QualityReport.to_dict()``."""
    lines = ["", f"  {'quality rule':<30}{'columns':<22}{'failed':>9}{'ratio':>9}  action"]
    for s in data.get("steps", []):
        limit = "" if s["max_invalid_ratio"] is None else f", max {s['max_invalid_ratio']:.1%}"
        lines.append(f"  {s['step']}: {s['invalid']:,} of {s['rows']:,} rows invalid "
                     f"({s['invalid_ratio']:.1%}{limit})")
        for r in s["rules"]:
            columns = ", ".join(r["columns"]) or "(row)"
            if len(columns) > 20:
                columns = columns[:19] + "…"
            rule_limit = ("" if r["max_invalid_ratio"] is None
                          else f" (max {r['max_invalid_ratio']:.1%})")
            lines.append(f"    {r['rule']:<28}{columns:<22}{r['failed']:>9,}"
                         f"{r['ratio']:>9.1%}  {r['on_failure']}{rule_limit}")
    return lines


def dteg_counters(result: Any, namespace: str = "dteg") -> dict[str, int]:
    """Committed counter values of a finished Beam run, by name."""
    values: dict[str, int] = {}
    for counter in result.metrics().query()["counters"]:
        if counter.key.metric.namespace == namespace:
            name = counter.key.metric.name
            values[name] = values.get(name, 0) + (counter.committed or 0)
    return values


def quality_report(spec: PipelineSpec, counters: dict[str, int]) -> QualityReport | None:
    """The report for every validate step of ``spec``; None when it has none."""
    from dteg.transforms.validate import ValidateConfig, rule_counter

    steps = []
    for step in spec.steps:
        config = step.settings
        if step.capabilities.role != "validate" or not isinstance(config, ValidateConfig):
            continue

        def count(what: str, name: str = step.name) -> int:
            return counters.get(f"{name}:{what}", 0)

        rules = [
            RuleOutcome(rule=label, type=rule.type, columns=rule.targets(),
                        on_failure=config.action(rule), failed=count(rule_counter(label)),
                        max_invalid_ratio=rule.max_invalid_ratio)
            for rule, label in zip(config.rules, config.labels(), strict=True)
        ]
        steps.append(StepQuality(
            step=step.name, rows=count("in"), invalid=count("dead_letter") + count("filtered"),
            max_invalid_ratio=config.max_invalid_ratio, rules=rules))
    return QualityReport(steps) if steps else None
