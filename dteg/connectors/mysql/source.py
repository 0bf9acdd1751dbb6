"""Read a MySQL/MariaDB table or query (unbuffered cursor, rows streamed into Arrow)."""

from __future__ import annotations

from dteg.components.contracts import RunContext
from dteg.connectors.mysql.config import SourceConfig
from dteg.connectors.mysql.dialect import MySqlDialect
from dteg.connectors.sql.reader import SqlReader


def create(config: SourceConfig, ctx: RunContext) -> SqlReader:
    return SqlReader(config, ctx, MySqlDialect(config, ctx.step))
