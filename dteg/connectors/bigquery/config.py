"""Config of the BigQuery sink."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dteg.connectors.load_strategy import LoadStrategy
from dteg.connectors.retry import RetrySettings

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Partitioning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str | None = Field(default=None, description="DATE/TIMESTAMP column (default: "
                              "ingestion time)")
    type: Literal["DAY", "HOUR", "MONTH", "YEAR"] = "DAY"
    expiration_days: float | None = Field(default=None, gt=0)


class SinkConfig(LoadStrategy):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(description="GCP project of the dataset (and of the jobs)")
    dataset: str = Field(pattern=IDENT)
    table: str = Field(pattern=IDENT)
    location: str | None = Field(default=None, description="e.g. EU, US, europe-west1")
    credentials_file: str | None = Field(
        default=None, description="Service-account JSON key; default: Application Default "
        "Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server)")
    api_endpoint: str | None = Field(
        default=None, description="Another endpoint than bigquery.googleapis.com (proxies, "
        "emulators); requests then go without credentials unless credentials_file is set")
    mode: Literal["append", "replace", "merge"] = "append"
    key: list[str] | str | None = Field(default=None, description="merge: the key column(s)")
    schema_evolution: Literal["evolve", "freeze", "discard_columns"] = Field(
        default="evolve", description="evolve: add new columns (BigQuery cannot widen types "
        "in place); freeze: fail on new columns; discard_columns: load only the table's")
    partitioning: Partitioning | None = Field(
        default=None, description="Time partitioning of a table dteg creates")
    clustering: list[str] | None = Field(default=None, max_length=4,
                                         description="Clustering columns of a table dteg creates")
    create_dataset: bool = Field(default=True, description="Create the dataset if missing")
    retry: RetrySettings = Field(default_factory=RetrySettings)

    @model_validator(mode="after")
    def _check(self) -> SinkConfig:
        if self.mode == "merge" and not self.key:
            raise ValueError("`mode: merge` needs `key:` (the column(s) that identify a row)")
        if self.strategy == "stream" and self.mode != "append":
            raise ValueError("`strategy: stream` sends rows as streaming inserts, so it needs "
                             "`mode: append`")
        return self

    def write_mode(self) -> str:
        return self.mode

    def keys(self) -> list[str]:
        if self.key is None:
            return []
        return [self.key] if isinstance(self.key, str) else list(self.key)
