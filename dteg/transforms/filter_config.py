"""Settings of the `filter` stage (no pyarrow: `dteg validate` imports it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field

from dteg.components.settings import StageSettings
from dteg.transforms.sql_check import sql_problem


class FilterConfig(StageSettings):
    model_config = ConfigDict(extra="forbid")

    where: str = Field(min_length=1, description="SQL predicate, e.g. amount > 0 AND "
                       "country IN ('KR', 'JP'); rows where it is false or null are filtered")

    def preflight(self, base_dir: Path) -> list[str]:
        problem = sql_problem(self.where, "`where:`")
        return [problem] if problem else []
