"""Config of the dbt step (``transform: {type: dbt, model: …, tests: true}``).

Running dbt after the load is not built yet: pipelines with a dbt step validate and plan,
and ``dteg run`` refuses them with a message saying so (see ``phases.run_blockers``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dteg.engine.contracts import RunContext
from dteg.errors import ConfigError


class DbtConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="Model (or .sql file) to run")
    select: str | None = None
    tests: bool = Field(default=False, description="Also run the selected models' tests")
    project_dir: str = "."
    profiles_dir: str | None = None
    target: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)


def create(config: DbtConfig, ctx: RunContext) -> Any:
    raise ConfigError(
        f"step `{ctx.step}`: running dbt after the load is not available in this version",
        hint="Remove the dbt step for now and run `dbt build` after `dteg run`.",
    )
