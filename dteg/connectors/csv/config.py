"""Config of the CSV source and sink."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import IO, ClassVar

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
        description="Parse each file whole, in memory (slower). Not needed for quoted values "
        "with line breaks: those are found and kept without it",
    )
    skip_rows: int = Field(default=0, ge=0, description="Lines to skip before the header")

    def preflight(self, base_dir: Path) -> list[str]:
        problems = super().preflight(base_dir)
        if problems or not self.schema_:
            return problems
        files = self.local_files(base_dir)
        names = self.columns or (self._header_names(files[0]) if files else None)
        if names is None:
            return []
        unknown = [c for c in self.schema_ if c not in names]
        if not unknown:
            return []
        where = "`columns:`" if self.columns else str(files[0]) if files else "the file"
        return [f"the declared `schema:` names column(s) {unknown} that {where} does not "
                f"have (its columns: {names}); fix the names under `schema:` (they are "
                "case-sensitive)"]

    def _header_names(self, path: Path) -> list[str] | None:
        """The column names on the header line of a local file (None: not checked here)."""
        if not self.header:
            return None
        kind = self.compression if self.compression != "auto" else (
            "gzip" if path.suffix.lower() in (".gz", ".gzip") else
            "none" if path.suffix.lower() not in (".zst", ".zstd", ".bz2") else "other")
        if kind not in ("none", "gzip"):
            return None
        try:
            opener: Callable[[Path, str], IO[bytes]] = (
                gzip.open if kind == "gzip" else open)  # type: ignore[assignment]
            with opener(path, "rb") as stream:
                for _ in range(self.skip_rows):
                    stream.readline()
                line = stream.readline().decode(self.encoding).lstrip("\ufeff")
        except (OSError, UnicodeDecodeError, LookupError):
            return None  # reading the file will say what is wrong
        row = next(csv.reader([line.rstrip("\r\n")], delimiter=self.delimiter,
                              quotechar=self.quote_char), [])
        return [n.strip() or f"column_{i + 1}" for i, n in enumerate(row)]


class SinkConfig(FileSinkConfig):
    file_extensions: ClassVar[tuple[str, ...]] = (".csv", ".tsv", ".txt")

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True
