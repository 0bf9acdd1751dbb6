"""Config of the Salesforce loader and source (Bulk API 2.0). Pydantic only.

Names follow the seed's example (``api_version: "v53.0"``, ``object_name: Contact``).
Secrets are ``SecretStr``: give them as ``${env:…}`` or ``${file:…}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from dteg.components.settings import SinkSettings, SourceSettings
from dteg.components.types import DeclaredType
from dteg.connectors.retry import RetrySettings

API_VERSION = r"^v\d{2,3}\.\d$"
FIELD_NAME = r"[A-Za-z][A-Za-z0-9_]*"
# Bulk API 2.0 accepts 150 MB of base64 per job, about 100 MB of CSV.
MAX_JOB_BYTES = 100 * 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientCredentials(_Strict):
    """OAuth2 client credentials flow of a connected app."""

    type: Literal["client_credentials"]
    client_id: str
    client_secret: SecretStr


class JwtBearer(_Strict):
    """OAuth2 JWT bearer flow: a JWT signed with the connected app's private key (RS256)."""

    type: Literal["jwt_bearer"]
    client_id: str = Field(description="The connected app's consumer key")
    username: str = Field(description="The Salesforce user the integration acts as")
    private_key: SecretStr | None = Field(default=None, description="PEM text")
    private_key_file: str | None = Field(default=None, description="PEM file")
    audience: str | None = Field(default=None, description="Default: the login URL")

    @model_validator(mode="after")
    def _one_key(self) -> JwtBearer:
        if (self.private_key is None) == (self.private_key_file is None):
            raise ValueError("give exactly one of `private_key:` or `private_key_file:`")
        return self


Auth = Annotated[ClientCredentials | JwtBearer, Field(discriminator="type")]


class ConnectionConfig(BaseModel):
    """Where Salesforce is and who logs in."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    login_url: str = Field(default="https://login.salesforce.com",
                           description="https://login.salesforce.com, https://test.salesforce."
                           "com (sandboxes) or your My Domain URL")
    api_version: str = Field(default="v53.0", pattern=API_VERSION)
    object_name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="e.g. Contact")
    auth: Auth | None = Field(default=None, description="Required to run; `dteg validate` "
                              "accepts a pipeline without it (as in the seed's example)")
    timeout_seconds: float = Field(default=60.0, gt=0)
    poll_initial_seconds: float = Field(default=0.5, gt=0)
    poll_max_seconds: float = Field(default=10.0, gt=0)
    job_timeout_seconds: float = Field(default=3600.0, gt=0,
                                       description="Give up on a job after this long")
    retry: RetrySettings = Field(default_factory=RetrySettings)

    def secrets(self) -> list[str]:
        auth = self.auth
        if isinstance(auth, ClientCredentials):
            return [auth.client_secret.get_secret_value()]
        if isinstance(auth, JwtBearer) and auth.private_key is not None:
            return [auth.private_key.get_secret_value()]
        return []


class SinkConfig(ConnectionConfig, SinkSettings):
    """Load rows into a Salesforce object with Bulk API 2.0 ingest jobs."""

    operation: Literal["insert", "upsert", "update", "delete"] = "insert"
    fields: dict[str, str | None] | None = Field(
        default=None, description="column → Salesforce field it is sent as (e.g. `email: "
        "Encrypted_Email__c`); `null` drops a column. Other columns go to the field of the "
        "same name (case-insensitive)")
    external_id_field: str | None = Field(
        default=None, description="upsert: the external id field that matches records (the "
        "column sent as it, by name or by `fields:`, is the key)")
    max_job_bytes: int = Field(default=MAX_JOB_BYTES, ge=1024, le=MAX_JOB_BYTES,
                               description="Split the CSV into jobs of at most this size")
    failed_records_path: str | None = Field(
        default=None, description="A JSON Lines file for the records Salesforce rejected "
        "(`{pipeline}`, `{run_id}`, `{step}` filled in); default: where the pipeline's other "
        "dead letters go (`pipeline.dead_letter`)")

    @model_validator(mode="after")
    def _external_id(self) -> SinkConfig:
        if self.operation == "upsert" and not self.external_id_field:
            raise ValueError("`operation: upsert` needs `external_id_field:` (the field that "
                             "matches records, e.g. External_Id__c)")
        if self.fields:
            bad = [f"`{k}: {v}`" for k, v in self.fields.items()
                   if v is not None and not re.fullmatch(FIELD_NAME, v)]
            if bad:
                raise ValueError(f"`fields:` maps to names that are not Salesforce field "
                                 f"names: {', '.join(bad)} (letters, digits and _, e.g. "
                                 "Encrypted_Email__c)")
            sent = [v for v in self.fields.values() if v is not None]
            twice = sorted({v for v in sent if [x.lower() for x in sent].count(v.lower()) > 1})
            if twice:
                raise ValueError(f"`fields:` sends several columns as {', '.join(twice)}")
        return self

    def write_mode(self) -> str:
        # Upserts and updates land on the same record when repeated; inserts add records.
        return "merge" if self.operation in ("upsert", "update", "delete") else "append"

    def preflight(self, base_dir: Path) -> list[str]:
        return []


class SourceConfig(ConnectionConfig, SourceSettings):
    """Read a Salesforce object with a Bulk API 2.0 query job."""

    fields: list[str] | None = Field(default=None, description="Fields to read (default: "
                                     "the declared schema's columns, else Id)")
    where: str | None = Field(default=None, description="SOQL condition, e.g. "
                              "LastModifiedDate > 2026-01-01T00:00:00Z")
    query: str | None = Field(default=None, description="A whole SOQL query instead")
    schema_: dict[str, DeclaredType] | None = Field(
        default=None, alias="schema", description="Column types (CSV values are cast)")
    max_records: int = Field(default=50_000, ge=1, description="Rows per result page")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    def soql(self) -> str:
        if self.query:
            return self.query
        names = self.fields or list(self.schema_ or {}) or ["Id"]
        where = f" WHERE {self.where}" if self.where else ""
        return f"SELECT {', '.join(names)} FROM {self.object_name}{where}"
