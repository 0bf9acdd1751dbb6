"""Settings of the `filter` stage (no pyarrow: `dteg validate` imports it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    where: str = Field(min_length=1, description="SQL predicate, e.g. amount > 0 AND "
                       "country IN ('KR', 'JP'); rows where it is false or null are filtered")
