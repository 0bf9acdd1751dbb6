"""The two-phase writer every file format shares: parts are written into a hidden staging
folder next to the target, and ``commit`` publishes them at once, so a reader never sees half
a run and a failed run leaves the old output in place."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pyarrow as pa

from dteg.connectors import filesystem as fs
from dteg.connectors.file_config import FileSinkConfig
from dteg.engine.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.errors import ConnectorError


class FormatWriter(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


# (stream, first batch's schema, compression) -> FormatWriter
OpenFormat = Callable[[Any, pa.Schema, str], FormatWriter]
# (path) -> batches, used to merge several parts into one file
ReadPart = Callable[[str], Iterator[pa.RecordBatch]]


class _FilePart(PartWriter):
    def __init__(self, path: str, compression: str, open_format: OpenFormat,
                 external_compression: bool, step: str) -> None:
        self.path = path
        self.compression = compression
        self._open_format = open_format
        self._external = external_compression
        self._stream: Any = None
        self._writer: FormatWriter | None = None
        self._schema: pa.Schema | None = None
        self._rows = 0
        self._step = step

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self._schema = batch.schema
            self._stream = fs.open_write(self.path, self.compression if self._external else "none")
            self._writer = self._open_format(self._stream, batch.schema, self.compression)
        elif batch.schema != self._schema:
            batch = conform(batch, self._schema, step=self._step)
        self._writer.write(batch)
        self._rows += batch.num_rows

    def close(self) -> PartResult | None:
        if self._writer is None:
            return None
        self._writer.close()
        if self._stream is not None and not getattr(self._stream, "closed", True):
            self._stream.close()
        assert self._schema is not None
        return PartResult(self.path, self._rows, fs.size_of(self.path),
                          extra={"schema": self._schema.to_string(show_schema_metadata=False)})


def conform(batch: pa.RecordBatch, schema: pa.Schema, *, step: str) -> pa.RecordBatch:
    """Cast ``batch`` to ``schema`` (same columns, compatible types) or say what differs."""
    if batch.schema.names != schema.names:
        missing = [n for n in schema.names if n not in batch.schema.names]
        extra = [n for n in batch.schema.names if n not in schema.names]
        if not missing and not extra:
            return batch.select(schema.names).cast(schema)
        raise ConnectorError(
            f"rows with different columns reached one output file (missing: {missing or '-'}, "
            f"new: {extra or '-'})", step=step,
            hint="Give every input the same columns (a `map` step can `drop:` or add them), "
            "or write each input to its own load step.",
        )
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConnectorError(
            f"rows with different column types reached one output file: {exc}", step=step,
            hint="Declare the column types with `schema:` on the source.",
        ) from None


class FileSink(BatchWriter):
    """Writes one format; the connector supplies how to open a writer and read a part back."""

    def __init__(self, config: FileSinkConfig, ctx: RunContext, *, extensions: tuple[str, ...],
                 open_format: OpenFormat, read_part: ReadPart, external_compression: bool,
                 header_lines: int | None = None) -> None:
        """``header_lines`` marks a text format whose parts merge by concatenation (after
        dropping each later part's header): parsing them back would re-infer types and turn
        a zip code like 01234 into 1234."""
        self.config = config
        self.header_lines = header_lines
        self.ctx = ctx
        self.extensions = extensions
        self.open_format = open_format
        self.read_part = read_part
        self.external = external_compression
        self.target = ctx.resolve_path(config.path)
        bare = fs.strip_compression_suffix(self.target.rstrip("/"))
        self.single_file = not config.path.endswith("/") and bare.lower().endswith(extensions)
        if self.single_file and config.mode == "append":
            raise ConnectorError(
                f"`mode: append` needs a folder, but {config.path} is one file", step=ctx.step,
                hint=f"Write to a folder (`path: {os.path.splitext(config.path)[0]}/`) to add a "
                "part file per run, or use `mode: replace`.",
            )
        self.compression = fs.compression_of(self.target if self.single_file else "",
                                             config.compression)
        if not self.external and self.compression == "auto":
            self.compression = "none"
        parent, name = os.path.split(self.target.rstrip("/"))
        self.staging = fs.join(parent or ".", f".{name}.dteg-tmp-{ctx.run_id}")

    def _part_name(self, part_id: str) -> str:
        suffix = {"gzip": ".gz", "zstd": ".zst", "bz2": ".bz2"}.get(self.compression, "") \
            if self.external else ""
        return f"part-{self.ctx.run_id}-{part_id}{self.extensions[0]}{suffix}"

    def open_part(self, part_id: str) -> PartWriter:
        path = fs.join(self.staging, self._part_name(part_id))
        return _FilePart(path, self.compression, self.open_format, self.external, self.ctx.step)

    def commit(self, parts: list[PartResult]) -> CommitResult:
        rows = sum(p.rows for p in parts)
        if self.config.mode == "error" and fs.exists(self.target):
            self.abort(parts)
            raise ConnectorError(
                f"{self.target} already exists and `mode: error` is set", step=self.ctx.step,
                hint="Remove it, or use `mode: replace`.",
            )
        try:
            if self.single_file:
                self._commit_file(parts)
            else:
                self._commit_folder(parts)
        finally:
            fs.delete_tree(self.staging)
        return CommitResult(rows=rows, target=self.target,
                            detail=f"{len(parts)} part(s)" if not self.single_file else "")

    def _commit_file(self, parts: list[PartResult]) -> None:
        if not parts:
            # No rows this run: `replace` must not leave the last run's rows looking current
            # (a folder target is emptied the same way).
            if self.config.mode == "replace" and fs.exists(self.target):
                fs.delete_file(self.target)
            return
        if len(parts) == 1:
            fs.rename(parts[0].location, self.target)
            return
        merged = fs.join(self.staging, f"merged-{uuid.uuid4().hex}{self.extensions[0]}")
        if self.header_lines is not None and len({p.extra.get("schema") for p in parts}) == 1:
            self._concatenate(parts, merged)
            fs.rename(merged, self.target)
            return
        writer = _FilePart(merged, self.compression, self.open_format, self.external,
                           self.ctx.step)
        for part in parts:
            for batch in self.read_part(part.location):
                writer.write(batch)
        writer.close()
        fs.rename(merged, self.target)

    def _concatenate(self, parts: list[PartResult], merged: str) -> None:
        with fs.open_write(merged, self.compression) as out:
            for index, part in enumerate(parts):
                with fs.open_read(part.location, self.compression) as stream:
                    if index:
                        for _ in range(self.header_lines or 0):
                            stream.readline()
                    shutil.copyfileobj(stream, out, 1 << 20)

    def _commit_folder(self, parts: list[PartResult]) -> None:
        if self.config.mode == "replace" and not fs.is_url(self.target):
            old = f"{self.target.rstrip('/')}.dteg-old-{self.ctx.run_id}"
            fresh = self.staging
            if not parts:
                os.makedirs(fresh, exist_ok=True)
            if os.path.exists(self.target.rstrip("/")):
                os.replace(self.target.rstrip("/"), old)
            os.replace(fresh, self.target.rstrip("/"))
            fs.delete_tree(old)
            return
        for part in parts:
            fs.rename(part.location, fs.join(self.target, os.path.basename(part.location)))

    def abort(self, parts: list[PartResult]) -> None:
        fs.delete_tree(self.staging)

    def describe(self) -> str:
        return self.target
