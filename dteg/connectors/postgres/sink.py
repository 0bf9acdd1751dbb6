"""Load into a PostgreSQL table: COPY into staging tables, then one transaction."""

from __future__ import annotations

from dteg.components.contracts import RunContext
from dteg.connectors.postgres.config import SinkConfig
from dteg.connectors.postgres.dialect import PostgresDialect
from dteg.connectors.sql.writer import SqlWriter


def create(config: SinkConfig, ctx: RunContext) -> SqlWriter:
    return SqlWriter(config, ctx, PostgresDialect(config, ctx.step))
