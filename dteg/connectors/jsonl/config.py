"""Config of the JSON Lines source and sink."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from dteg.connectors.file_config import FileSinkConfig, FileSourceConfig


class SourceConfig(FileSourceConfig):
    glob_example: ClassVar[str] = "*.jsonl"

    encoding: str = "utf-8"
    sample_rows: int = Field(
        default=10_000, ge=1,
        description="Rows of the first file used to infer the schema when none is declared")


class SinkConfig(FileSinkConfig):
    file_extensions: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson", ".json")
