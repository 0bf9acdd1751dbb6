"""Config of the PostgreSQL source and sink."""

from __future__ import annotations

from typing import ClassVar

from dteg.connectors.sql.config import SqlSinkConfig, SqlSourceConfig

SCHEMES = ("postgresql", "postgres")


class SourceConfig(SqlSourceConfig):
    schemes: ClassVar[tuple[str, ...]] = SCHEMES
    default_port: ClassVar[int] = 5432


class SinkConfig(SqlSinkConfig):
    schemes: ClassVar[tuple[str, ...]] = SCHEMES
    default_port: ClassVar[int] = 5432
