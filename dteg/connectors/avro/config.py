"""Config of the Avro source and sink."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dteg.connectors.file_config import FileSinkConfig, FileSourceConfig


class SourceConfig(FileSourceConfig):
    glob_example: ClassVar[str] = "*.avro"

    pass


class SinkConfig(FileSinkConfig):
    file_extensions: ClassVar[tuple[str, ...]] = (".avro",)

    compression: Literal["auto", "none", "deflate", "snappy", "zstandard"] = Field(  # type: ignore[assignment]
        default="auto", description="Avro block codec; auto = deflate")
    record_name: str = Field(default="Record", description="Name of the Avro record type")
