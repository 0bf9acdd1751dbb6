"""Settings of the `dbt` post-load step (no pyarrow: `dteg validate` imports it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from dteg.components.settings import PostLoadSettings


class DbtConfig(PostLoadSettings):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None, description="Model to run (name or .sql file); default: the project")
    select: str | None = Field(default=None, description="dbt selection syntax, e.g. tag:daily+")
    tests: bool = Field(default=False, description="`dbt build`: run the models and their tests")
    project_dir: str = Field(default="dbt", description="dbt project folder, relative to the "
                             "pipeline file")
    profiles_dir: str | None = Field(
        default=None, description="Folder holding profiles.yml; default: a dbt-duckdb profile "
        "for the DuckDB database this pipeline loads")
    target: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    full_refresh: bool = False
    every: str | float | None = Field(
        default=None, description="In `dteg stream`: run dbt at most this often (15m, 1h, …; "
        "default 15m), after a micro-batch has committed")
    after_batches: int | None = Field(
        default=None, ge=1, description="In `dteg stream`: run dbt after this many committed "
        "micro-batches instead of on a time interval")

    @field_validator("every")
    @classmethod
    def _duration(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            from dteg.transforms.window import parse_duration

            parse_duration(value)
        return value

    def interval_seconds(self) -> float:
        from dteg.transforms.window import US, parse_duration

        return parse_duration(self.every if self.every is not None else "15m") / US

    def preflight(self, base_dir: Path) -> list[str]:
        project = Path(self.project_dir).expanduser()
        project = project if project.is_absolute() else base_dir / project
        if (project / "dbt_project.yml").is_file():
            return []
        return [f"no dbt project at {project} (missing dbt_project.yml); set `project_dir:` "
                "on the dbt step (relative to the pipeline file)"]
