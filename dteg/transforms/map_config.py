"""Settings of the `map` stage (no pyarrow: `dteg validate` imports it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MapConfig(BaseModel):
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
