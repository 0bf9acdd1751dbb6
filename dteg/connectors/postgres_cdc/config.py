"""Config of the PostgreSQL change-data-capture source (``type: postgres_cdc``)."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dteg.components.settings import SourceSettings
from dteg.connectors.postgres.config import SCHEMES
from dteg.connectors.sql.config import IDENTIFIER, ConnectionConfig

_NAME = r"^[a-z_][a-z0-9_]{0,62}$"


class CdcBatch(BaseModel):
    """How much a micro-batch of ``dteg stream`` takes: whichever limit comes first."""

    model_config = ConfigDict(extra="forbid")

    max_records: int = Field(default=100_000, ge=1,
                             description="Changes per micro-batch (whole transactions)")
    max_seconds: float = Field(default=1.0, gt=0,
                               description="Start a micro-batch this long after the last one")


class SourceConfig(ConnectionConfig, SourceSettings):
    """Inserts, updates and deletes of PostgreSQL tables through logical replication
    (pgoutput). Rows carry ``_op`` (insert/update/delete), ``_lsn`` and ``_commit_ts``."""

    schemes: ClassVar[tuple[str, ...]] = SCHEMES
    default_port: ClassVar[int] = 5432

    tables: list[str] = Field(min_length=1, description="Tables to capture (table or "
                              "schema.table); they form the pipeline's publication")
    publication: str | None = Field(default=None, pattern=_NAME,
                                    description="Publication name (default dteg_<pipeline>_"
                                    "<step>); created with `tables:` if it does not exist")
    slot: str | None = Field(default=None, pattern=_NAME,
                             description="Replication slot name (default dteg_<pipeline>_"
                             "<step>); created on the first start")
    snapshot: bool = Field(default=False, description="On the first start, read the tables' "
                           "existing rows once (the slot's exported snapshot) before the "
                           "changes")
    batch: CdcBatch = Field(default_factory=CdcBatch)
    batch_rows: int = Field(default=50_000, ge=1, description="Rows per Arrow batch")

    @model_validator(mode="after")
    def _table_names(self) -> SourceConfig:
        for table in self.tables:
            if not re.match(IDENTIFIER, table):
                raise ValueError(f"`tables:` entry `{table}` is not a table or schema.table")
        return self

    def names(self, pipeline: str, step: str) -> tuple[str, str]:
        """(publication, slot), the defaults derived from the pipeline and step."""
        default = re.sub(r"[^a-z0-9_]", "_", f"dteg_{pipeline}_{step}".lower())[:63]
        return self.publication or default, self.slot or default

