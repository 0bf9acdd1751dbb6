"""The rows of a PostgreSQL sink's table, for retention and erasure."""

from __future__ import annotations

from pathlib import Path

from dteg.connectors.postgres.config import SinkConfig
from dteg.connectors.postgres.dialect import PostgresDialect
from dteg.connectors.sql.rows import SqlRows


def create(config: SinkConfig, base_dir: Path, step: str) -> SqlRows:
    return SqlRows(PostgresDialect(config, step), config.table)
