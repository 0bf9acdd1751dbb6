"""Config of the MySQL/MariaDB source and sink."""

from __future__ import annotations

from typing import ClassVar

from dteg.connectors.sql.config import SqlSinkConfig, SqlSourceConfig

SCHEMES = ("mysql", "mariadb")


class SourceConfig(SqlSourceConfig):
    schemes: ClassVar[tuple[str, ...]] = SCHEMES
    default_port: ClassVar[int] = 3306


class SinkConfig(SqlSinkConfig):
    schemes: ClassVar[tuple[str, ...]] = SCHEMES
    default_port: ClassVar[int] = 3306
