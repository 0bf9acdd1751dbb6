"""API models of the compliance report (``/api/v1/privacy/report``, ``/requests``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class InventoryDataset(BaseModel):
    dataset: str = Field(description="namespace::name (the catalog's key)")
    columns: dict[str, str] = Field(description="column → PII class")
    protection: dict[str, str | None] = Field(description="column → strategy; null: stored "
                                              "as is")
    unprotected: list[str]
    owners: list[str]
    purposes: list[str] = Field(description="The writing pipelines' descriptions")
    writers: list[str]
    recipients: list[str] = Field(description="Pipelines that read the dataset")
    models: list[str] = Field(description="dbt models built on it")
    retention: str
    last_written: str | None


class RetentionRow(BaseModel):
    pipeline: str
    step: str
    dataset: str
    target: str
    column: str | None
    keep: str | None
    status: str = Field(description="enforced | not_enforced | not_set")
    reason: str


class PrivacyReport(BaseModel):
    generated_at: str
    datasets: list[InventoryDataset] = Field(description="The PII inventory and record of "
                                             "processing (as `dteg privacy report`)")
    retention: list[RetentionRow] = Field(description="Every load of the served pipelines")


class RequestReceipt(BaseModel):
    seq: int = Field(description="The audit log entry")
    dataset: str
    status: str = Field(description="erased | exported | not_found | unsupported | failed")
    pipeline: str | None = None
    step: str | None = None
    target: str | None = None
    column: str | None = None
    protection: str | None = None
    rows: int | None = None
    message: str | None = None


class SubjectRequest(BaseModel):
    request_id: str
    kind: str = Field(description="erase | export")
    actor: str
    at: str
    complete: bool
    receipts: list[RequestReceipt] = Field(description="One per dataset; never the subject's "
                                           "value")
