"""Settings of the `validate` stage (no pyarrow: `dteg validate` imports it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from dteg.spec.rules import OnFailure, Rule, ValidationRule


class ValidateConfig(BaseModel):
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
