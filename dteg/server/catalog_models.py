"""API models of the catalog (``/api/v1/catalog``), separate from the catalog's storage."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CatalogColumn(BaseModel):
    name: str
    type: str
    pii: str | None = Field(default=None, description="email, phone, card_number, us_ssn, "
                            "kr_rrn, person_name, or declared (masked in the pipeline)")
    protection: str | None = Field(default=None, description="hash, tokenize, partial, "
                                   "redact, email, null, encrypted; null: stored as is")
    protected_by: str | None = None


class CatalogDataset(BaseModel):
    key: str = Field(description="namespace::name (the OpenLineage identity)")
    namespace: str
    name: str
    component: str
    description: str | None = None
    owners: list[str]
    tags: list[str]
    columns: list[CatalogColumn]
    pii_classes: dict[str, str] = Field(description="column → PII class")
    last_written: str | None = Field(description="Freshness: the last successful write")
    last_read: str | None
    last_rows: int | None
    dead_letter: bool


class CatalogUser(BaseModel):
    pipeline: str
    step: str
    role: str = Field(description="read | write")
    last_run: str


class CatalogModel(BaseModel):
    model: str
    pipeline: str


class SchemaVersion(BaseModel):
    version: int
    schema_: list[dict[str, str]] = Field(alias="schema")
    run_id: str
    pipeline: str
    at: str


class CatalogRun(BaseModel):
    run_id: str
    pipeline: str
    step: str
    role: str
    at: str
    rows: int | None
    profile: dict[str, Any] | None = Field(
        default=None, description="The run's sample profile (sources): per column null "
        "share, distinct count, min/max of numbers and times, PII hits; never text values")


class CatalogDatasetDetail(CatalogDataset):
    users: list[CatalogUser]
    models: list[CatalogModel]
    schema_history: list[SchemaVersion]
    runs: list[CatalogRun]


class VolumePointModel(BaseModel):
    run_id: str
    at: str
    rows: int
    median: float | None = None
    low: float | None = None
    high: float | None = None
    anomaly: bool = False


class SchemaChange(BaseModel):
    version: int
    at: str
    run_id: str
    added: list[str]
    removed: list[str]
    retyped: list[str]
    downstream_pipelines: list[str] = Field(description="Pipelines that read the dataset")
    downstream_models: list[str] = Field(description="dbt models built on it")


class DatasetQuality(BaseModel):
    key: str
    volume: list[VolumePointModel] = Field(description="Rows per run, oldest first, flagged "
                                           "outside the rolling median ± k·MAD")
    anomalies: int
    schema_changes: list[SchemaChange]
    last_written: str | None = Field(description="Freshness: the last successful write")


class ErasureRequest(BaseModel):
    subject: str = Field(max_length=1000, description="column=value, e.g. email=ada@example.com")


class ErasureReceipt(BaseModel):
    dataset: str
    pipeline: str
    step: str
    target: str
    column: str
    protection: str | None
    status: str = Field(description="erased | crypto-shredded | not_found | unsupported | "
                        "failed")
    rows: int
    message: str


class ErasureResult(BaseModel):
    request_id: str
    complete: bool = Field(description="Every dataset holding the column was erased")
    seconds: float
    receipts: list[ErasureReceipt]
