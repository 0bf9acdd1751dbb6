"""Read a PostgreSQL table or query (COPY through the ADBC driver, straight into Arrow)."""

from __future__ import annotations

from dteg.connectors.postgres.config import SourceConfig
from dteg.connectors.postgres.dialect import PostgresDialect
from dteg.connectors.sql.reader import SqlReader
from dteg.engine.contracts import RunContext


def create(config: SourceConfig, ctx: RunContext) -> SqlReader:
    return SqlReader(config, ctx, PostgresDialect(config, ctx.step))
