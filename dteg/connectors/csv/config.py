"""Config of the CSV source and sink."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from dteg.connectors.file_config import FileSinkConfig, FileSourceConfig


class SourceConfig(FileSourceConfig):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str = Field(default='"', min_length=1, max_length=1)
    header: bool = Field(default=True, description="The first line holds the column names")
    columns: list[str] | None = Field(
        default=None, description="Column names, when the file has no header line")
    encoding: str = Field(default="utf-8", description="e.g. utf-8, latin-1, cp949")
    null_values: list[str] | None = Field(
        default=None,
        description="Text that means null in every column. Default: an empty field in every "
        "column, plus NULL, null, NA, N/A, NaN … in non-text columns",
    )
    multiline: bool = Field(
        default=False,
        description="Quoted values may contain line breaks (slower: each file is parsed "
        "whole, in memory)",
    )
    skip_rows: int = Field(default=0, ge=0, description="Lines to skip before the header")


class SinkConfig(FileSinkConfig):
    file_extensions: ClassVar[tuple[str, ...]] = (".csv", ".tsv", ".txt")

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True
