"""Read a PostgreSQL table or query (COPY through the ADBC driver, straight into Arrow)."""

from __future__ import annotations

from dteg.components.contracts import RunContext
from dteg.connectors.postgres.config import SourceConfig
from dteg.connectors.postgres.dialect import PostgresDialect
from dteg.connectors.sql.reader import SqlReader


def create(config: SourceConfig, ctx: RunContext) -> SqlReader:
    return SqlReader(config, ctx, PostgresDialect(config, ctx.step))
