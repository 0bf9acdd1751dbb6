"""Config shared by the file connectors (csv, jsonl, parquet, avro). Pydantic only."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlparse

from pydantic import ConfigDict, Field, model_validator

from dteg.components.settings import Dataset, SourceSettings
from dteg.components.types import DeclaredType
from dteg.connectors.load_strategy import LoadStrategy
from dteg.connectors.object_store import ObjectStoreSettings

Compression = Literal["auto", "none", "gzip", "zstd", "bz2"]


def file_dataset(path: str, base_dir: Path) -> Dataset:
    """A file's lineage identity: ``scheme://bucket`` + key, or ``file`` + absolute path."""
    if "://" in path and not path.startswith("file://"):
        url = urlparse(path)
        return f"{url.scheme}://{url.netloc}", url.path.lstrip("/") or "/"
    local = Path(path.removeprefix("file://")).expanduser()
    return "file", str(local if local.is_absolute() else (base_dir / local).resolve())


class FileSourceConfig(ObjectStoreSettings, SourceSettings):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: str | list[str] = Field(
        description="File, glob (data/*.csv, data/**/*.csv) or URL (s3://, gs://); relative "
        "paths are taken from the pipeline file's folder"
    )
    compression: Compression = Field(
        default="auto", description="auto: from the extension (.gz, .zst, .bz2)")
    schema_: dict[str, DeclaredType] | None = Field(
        default=None, alias="schema",
        description="Declared column types (column: type); rows that do not fit are "
        "dead-lettered. Without it, types are inferred from the first file.",
    )
    batch_rows: int = Field(default=65_536, ge=1, description="Rows per Arrow batch")
    allow_empty: bool = Field(default=False, description="Succeed when no file matches")
    filename_column: str | None = Field(
        default=None, description="Add a column holding each row's source file")

    # The glob suggested when `path` names a folder; each format sets its own.
    glob_example: ClassVar[str] = "*.csv"

    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)

    def _local_patterns(self, base_dir: Path) -> list[str] | None:
        """The paths as absolute local patterns (None: one is a URL, not checked here)."""
        patterns = []
        for pattern in self.paths():
            if "://" in pattern and not pattern.startswith("file://"):
                return None
            path = Path(pattern.removeprefix("file://")).expanduser()
            patterns.append(str(path if path.is_absolute() else base_dir / path))
        return patterns

    def local_files(self, base_dir: Path) -> list[Path] | None:
        """The local files the paths match now (None: a path is a URL, not checked here)."""
        patterns = self._local_patterns(base_dir)
        if patterns is None:
            return None
        return [Path(p) for pattern in patterns
                for p in sorted(glob.glob(pattern, recursive=True)) if os.path.isfile(p)]

    def preflight(self, base_dir: Path) -> list[str]:
        patterns = self._local_patterns(base_dir)
        if patterns is None or self.local_files(base_dir):
            return []
        folder = next((p for p in patterns if os.path.isdir(p)), None)
        if folder is not None:
            return [f"{folder} is a folder; name the files in it with a glob, e.g. "
                    f"`{os.path.join(folder, self.glob_example)}`"]
        if self.allow_empty:
            return []
        return [f"no file matches {', '.join(patterns)}; check the path (relative paths are "
                "taken from the pipeline file's folder), or set `allow_empty: true` if an "
                "empty input is expected"]

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset:
        first = self.path[0] if isinstance(self.path, list) and self.path else self.path
        return file_dataset(str(first), base_dir)


class FileSinkConfig(ObjectStoreSettings, LoadStrategy):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="A file (out/orders.parquet: one file) or a folder (out/orders/: part "
        "files); relative paths are taken from the pipeline file's folder. A folder may hold "
        "partition templates: {date} {year} {month} {day} {hour} (the run's start, UTC), "
        "{run_id}, or {column} (the row's value; that column is left out of the files), "
        "e.g. s3://bucket/orders/dt={date}/"
    )
    max_file_rows: int | None = Field(
        default=None, ge=1, description="Start a new part file after this many rows")
    max_file_bytes: int | None = Field(
        default=None, ge=1024, description="Start a new part file once one reaches this size "
        "(checked after each batch, so files end slightly above it)")
    mode: Literal["replace", "append", "error"] = Field(
        default="replace",
        description="replace: swap in the new output atomically; append: add part files to a "
        "folder; error: fail if the target exists",
    )
    compression: Compression = "auto"

    # Extensions that make `path` one file rather than a folder; each format sets its own.
    file_extensions: ClassVar[tuple[str, ...]] = ()

    def is_single_file(self) -> bool:
        if self.path.endswith("/"):
            return False
        bare = self.path.lower()
        for suffix in (".gz", ".gzip", ".zst", ".zstd", ".bz2"):
            bare = bare.removesuffix(suffix)
        return bare.endswith(self.file_extensions)

    @model_validator(mode="after")
    def _append_needs_folder(self) -> FileSinkConfig:
        if self.mode == "append" and self.file_extensions and self.is_single_file():
            folder = os.path.splitext(self.path)[0]
            raise ValueError(
                f"`mode: append` needs a folder, but `{self.path}` names one file; write to a "
                f"folder (`path: {folder}/`) to add a part file per run, or use `mode: replace`")
        one_file_template = self.path.replace("{run_id}", "")
        if "{" in one_file_template and self.file_extensions and self.is_single_file():
            raise ValueError(
                f"partition templates need a folder, but `{self.path}` names one file; end the "
                "path with `/`, e.g. `path: s3://bucket/orders/dt={date}/` (a one-file path "
                "may hold only `{run_id}`)")
        if self.strategy == "stream" and self.mode != "append":
            raise ValueError(
                "`strategy: stream` publishes a file per micro-batch, so it needs "
                "`mode: append` (and a folder path)")
        return self

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset:
        return file_dataset(self.path, base_dir)

    def write_mode(self) -> str:
        return self.mode
