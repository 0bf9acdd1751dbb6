"""Load into a MySQL/MariaDB table: multi-row INSERTs into staging tables, then one
transaction (DDL first: MySQL commits before each DDL statement)."""

from __future__ import annotations

from dteg.components.contracts import RunContext
from dteg.connectors.mysql.config import SinkConfig
from dteg.connectors.mysql.dialect import MySqlDialect
from dteg.connectors.sql.writer import SqlWriter


def create(config: SinkConfig, ctx: RunContext) -> SqlWriter:
    return SqlWriter(config, ctx, MySqlDialect(config, ctx.step))
