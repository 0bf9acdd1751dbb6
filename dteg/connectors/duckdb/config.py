"""Config of the DuckDB source and sink (the embedded default warehouse)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from dteg.components.settings import Dataset, SinkSettings, SourceSettings
from dteg.connectors.load_strategy import MergeOptions

DEFAULT_DATABASE = "warehouse.duckdb"


def duckdb_dataset(database: str, table: str | None, base_dir: Path, step: str) -> Dataset:
    """``duckdb://<database file>`` + the table (or ``query:<step>``)."""
    if database == ":memory:":
        namespace = "duckdb://memory"
    else:
        path = Path(database)
        namespace = "duckdb://" + str(path if path.is_absolute() else (base_dir / path).resolve())
    return namespace, table or f"query:{step}"


class SourceConfig(SourceSettings):
    model_config = ConfigDict(extra="forbid")

    database: str = Field(default=DEFAULT_DATABASE,
                          description="Database file (relative to the pipeline file's folder), "
                          "or :memory: for a query that needs no stored tables")
    table: str | None = None
    query: str | None = Field(default=None, description="SQL query instead of a table")
    batch_rows: int = Field(default=65_536, ge=1)

    @model_validator(mode="after")
    def _one_of(self) -> SourceConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table:` or `query:`")
        return self

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset:
        return duckdb_dataset(self.database, self.table, base_dir, step)


class SinkConfig(SinkSettings, MergeOptions):
    model_config = ConfigDict(extra="forbid")

    database: str = Field(default=DEFAULT_DATABASE,
                          description="Database file; relative to the pipeline file's folder")
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$",
                       description="table or schema.table")
    mode: Literal["append", "replace", "merge"] = "append"
    key: list[str] | str | None = Field(default=None, description="merge: the key column(s)")
    schema_evolution: Literal["evolve", "freeze", "discard_columns"] = Field(
        default="evolve", description="evolve: add new columns and widen types; freeze: fail "
        "on any new or changed column; discard_columns: load only the table's columns")

    @model_validator(mode="after")
    def _merge_needs_key(self) -> SinkConfig:
        if self.mode == "merge" and not self.key:
            raise ValueError("`mode: merge` needs `key:` (the column(s) that identify a row)")
        self.check_merge_options(self.mode)
        return self

    def write_mode(self) -> str:
        return self.mode

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset:
        return duckdb_dataset(self.database, self.table, base_dir, step)

    def database_file(self, base_dir: Path) -> Path | None:
        path = Path(self.database).expanduser()
        return path if path.is_absolute() else (base_dir / path).resolve()

    def keys(self) -> list[str]:
        if self.key is None:
            return []
        return [self.key] if isinstance(self.key, str) else list(self.key)
