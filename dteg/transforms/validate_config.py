"""Settings of the `validate` stage (no pyarrow: `dteg validate` imports it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field

from dteg.components.settings import StageSettings
from dteg.spec.rules import OnFailure, Rule, ValidationRule


class ValidateConfig(StageSettings):
    model_config = ConfigDict(extra="forbid")

    rules: list[ValidationRule] = Field(min_length=1)
    on_failure: OnFailure = "quarantine"
    max_invalid_ratio: float | None = Field(
        default=None, ge=0, le=1, description="Fail the run (before anything is loaded) when "
        "more than this share of rows breaks any rule")

    def labels(self) -> list[str]:
        """One distinct label per rule: its name, else its type (numbered when repeated)."""
        seen: dict[str, int] = {}
        labels = []
        for rule in self.rules:
            base = rule.label()
            seen[base] = seen.get(base, 0) + 1
            labels.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
        return labels

    def has_thresholds(self) -> bool:
        return self.max_invalid_ratio is not None or any(
            r.max_invalid_ratio is not None for r in self.rules)

    def action(self, rule: Rule) -> OnFailure:
        return rule.on_failure or self.on_failure

    def preflight(self, base_dir: Path) -> list[str]:
        """An `expression` rule that does not parse fails before a row is read."""
        expressions = [(rule.expression, label)
                       for rule, label in zip(self.rules, self.labels(), strict=True)
                       if rule.type == "expression" and rule.expression]
        if not expressions:
            return []
        from dteg.transforms.sql_check import sql_problem  # only for pipelines that need it

        found = (sql_problem(text, f"the expression of rule `{label}`")
                 for text, label in expressions)
        return [p for p in found if p]
