"""Config of the Parquet source and sink."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dteg.connectors.file_config import FileSinkConfig, FileSourceConfig


class SourceConfig(FileSourceConfig):
    glob_example: ClassVar[str] = "*.parquet"

    columns: list[str] | None = Field(default=None, description="Read only these columns")


class SinkConfig(FileSinkConfig):
    file_extensions: ClassVar[tuple[str, ...]] = (".parquet", ".pq")

    compression: Literal["auto", "none", "snappy", "gzip", "zstd", "lz4", "brotli"] = Field(  # type: ignore[assignment]
        default="auto", description="Parquet codec; auto = snappy")
    row_group_rows: int = Field(default=1_000_000, ge=1)
