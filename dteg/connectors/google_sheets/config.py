"""Config of the Google Sheets source and sink (type ``google_sheets``, alias ``sheets``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from dteg.components.settings import Dataset, SinkSettings, SourceSettings
from dteg.components.types import DeclaredType
from dteg.connectors.retry import RetrySettings

# The Sheets API's documented ceiling is 10 MB per request and Google recommends 2 MB; a
# request of this many cells stays well under both for ordinary cell sizes.
MAX_CELLS_PER_REQUEST = 50_000


class SheetsConnection(BaseModel):
    """How to reach one sheet (tab) of a spreadsheet with a service account."""

    model_config = ConfigDict(extra="forbid")

    spreadsheet_id: str = Field(description="The id in the spreadsheet's URL "
                                "(docs.google.com/spreadsheets/d/<id>/…)")
    sheet: str = Field(default="Sheet1", description="The sheet (tab) name")
    credentials_file: str | None = Field(
        default=None, description="A service-account JSON key file (share the spreadsheet "
        "with the account's e-mail address)")
    credentials_json: SecretStr | None = Field(
        default=None, description="The service-account JSON key itself (e.g. "
        "${env:GOOGLE_SHEETS_KEY}) instead of a file")
    api_endpoint: str = Field(default="https://sheets.googleapis.com",
                              description="The Sheets API root (a stand-in's for tests)")
    token_uri: str | None = Field(
        default=None, description="OAuth token endpoint (default: the key's token_uri)")
    retry: RetrySettings = Field(default_factory=RetrySettings,
                                 description="Retries of 429 (quota) and 5xx answers")

    @model_validator(mode="after")
    def _one_credential(self) -> SheetsConnection:
        if (self.credentials_file is None) == (self.credentials_json is None):
            raise ValueError("set exactly one of `credentials_file` (a service-account JSON "
                             "key file) or `credentials_json` (the key's text)")
        return self

    def _dataset(self) -> Dataset:
        return "googlesheets", f"{self.spreadsheet_id}/{self.sheet}"


class SourceConfig(SheetsConnection, SourceSettings):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    header_row: int = Field(default=1, ge=1, description="The row holding the column names; "
                            "data starts on the next row")
    schema_: dict[str, DeclaredType] | None = Field(
        default=None, alias="schema",
        description="Column types (column: type); cells that do not fit go to the dead-letter "
        "output with their cell (Sheet1!C7). Undeclared columns are text.")
    batch_rows: int = Field(default=5_000, ge=1, le=100_000,
                            description="Rows per values.get request and per Arrow batch")

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset:
        return self._dataset()


class SinkConfig(SheetsConnection, SinkSettings):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["append", "replace"] = Field(
        default="append", description="append: add rows under the existing ones (the header "
        "is written when the sheet is empty); replace: the sheet holds exactly this run's rows")
    batch_rows: int = Field(default=2_000, ge=1, le=100_000,
                            description="Rows per write request (also capped at "
                            f"{MAX_CELLS_PER_REQUEST:,} cells)")

    def write_mode(self) -> str:
        return self.mode

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset:
        return self._dataset()
