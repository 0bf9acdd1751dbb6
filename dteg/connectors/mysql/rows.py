"""The rows of a MySQL/MariaDB sink's table, for retention and erasure."""

from __future__ import annotations

from pathlib import Path

from dteg.connectors.mysql.config import SinkConfig
from dteg.connectors.mysql.dialect import MySqlDialect
from dteg.connectors.sql.rows import SqlRows


def create(config: SinkConfig, base_dir: Path, step: str) -> SqlRows:
    return SqlRows(MySqlDialect(config, step), config.table)
