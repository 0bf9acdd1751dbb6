"""Read a MySQL/MariaDB table or query (unbuffered cursor, rows streamed into Arrow)."""

from __future__ import annotations

from dteg.connectors.mysql.config import SourceConfig
from dteg.connectors.mysql.dialect import MySqlDialect
from dteg.connectors.sql.reader import SqlReader
from dteg.engine.contracts import RunContext


def create(config: SourceConfig, ctx: RunContext) -> SqlReader:
    return SqlReader(config, ctx, MySqlDialect(config, ctx.step))
