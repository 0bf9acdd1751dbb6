"""Settings of the `map` stage (no pyarrow: `dteg validate` imports it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, model_validator

from dteg.components.settings import StageSettings
from dteg.transforms.sql_check import sql_problem


class MapConfig(StageSettings):
    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(
        default_factory=dict,
        description="column → SQL expression; an existing column is replaced in place, a new "
        "one is added at the end",
    )
    rename: dict[str, str] = Field(default_factory=dict, description="old name → new name")
    drop: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> MapConfig:
        if not (self.columns or self.rename or self.drop):
            raise ValueError("give at least one of `columns:`, `rename:` or `drop:`")
        return self

    def created_columns(self) -> set[str]:
        return {self.rename.get(c, c) for c in self.columns} | set(self.rename.values())

    def preflight(self, base_dir: Path) -> list[str]:
        found = (sql_problem(expr, f"`columns.{name}`") for name, expr in self.columns.items())
        return [p for p in found if p]
