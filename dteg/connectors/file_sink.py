"""The two-phase writer every file format shares: parts are written into a hidden staging
folder next to the target, and ``commit`` publishes them at once, so a reader never sees half
a run and a failed run leaves the old output in place.

URL targets (``s3://``) are written to a local spool file first and uploaded whole when the
file is finished (retried with backoff; a retry overwrites the same staging key), then
``commit`` copies each staged object to its final key (again idempotent) and, for
``mode: replace``, deletes the old objects only after every new one is in place. Each object
appears whole or not at all; during the copy a reader may see some of the run's new files
(and, with ``replace``, old ones next to them) — object stores have no folder rename.

When the parts and the commit run in one process (``StepPlan.local_commit``: the in-process
executor of bounded runs) and the target is one object, nothing is staged in the store: the
spool file stays local and the commit uploads it once, straight to its final key. An upload
is atomic on S3 and GCS (a multipart upload appears only when it completes), so readers still
never see a partial object, and a failed or killed run leaves no object (at most an
incomplete multipart upload, which no listing shows and a bucket lifecycle rule expires).
Folder targets keep the staged publish."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pyarrow as pa

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.connectors import filesystem as fs
from dteg.connectors import partitions
from dteg.connectors.file_config import FileSinkConfig
from dteg.connectors.object_store import StoreOptions
from dteg.errors import ConnectorError

log = logging.getLogger("dteg.file_sink")



def _with_run_id(path: str, run_id: str) -> str:
    """A one-file target may name the run: ``out/{run_id}.jsonl``. (In a folder path,
    ``{run_id}`` is a path template, filled per part; see ``dteg.connectors.partitions``.)"""
    head, _, name = path.rpartition("/")
    if "{run_id}" not in name:
        return path
    return f"{head}/{name.replace('{run_id}', run_id)}" if head else name.replace(
        "{run_id}", run_id)

class FormatWriter(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


# (stream, first batch's schema, compression) -> FormatWriter
OpenFormat = Callable[[Any, pa.Schema, str], FormatWriter]
# (path) -> batches, used to merge several parts into one file
ReadPart = Callable[[str], Iterator[pa.RecordBatch]]


class _FilePart(PartWriter):
    """One file. ``spool``: write it there (locally) and upload it to ``path`` on close."""

    def __init__(self, path: str, compression: str, open_format: OpenFormat,
                 external_compression: bool, step: str, *, spool: str | None = None,
                 options: StoreOptions | None = None, keep_spool: bool = False) -> None:
        self.path = path
        self.spool = spool
        self.keep_spool = keep_spool
        self.options = options
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
            self._stream = fs.open_write(self.spool or self.path,
                                         self.compression if self._external else "none")
            self._writer = self._open_format(self._stream, batch.schema, self.compression)
        elif batch.schema != self._schema:
            batch = conform(batch, self._schema, step=self._step)
        if batch.num_rows:  # a zero-row batch only opens the file with its schema
            self._writer.write(batch)
            self._rows += batch.num_rows

    @property
    def rows(self) -> int:
        return self._rows

    def size(self) -> int:
        """Bytes written so far (what the format has flushed)."""
        return fs.size_of(self.spool or self.path) if self._writer is not None else 0

    def close(self) -> PartResult | None:
        if self._writer is None:
            return None
        self._writer.close()
        if self._stream is not None and not getattr(self._stream, "closed", True):
            self._stream.close()
        assert self._schema is not None
        size = self.size()
        extra: dict[str, Any] = {"schema": self._schema.to_string(show_schema_metadata=False)}
        if self.spool is not None and self.keep_spool:
            # The commit runs in this process: it uploads the spool file once, straight to
            # the final key (an upload is atomic: the object appears whole or not at all).
            extra["spool"] = self.spool
        elif self.spool is not None:
            fs.publish(self.spool, self.path, self.options)
            os.remove(self.spool)
        return PartResult(self.path, self._rows, size, extra=extra)


class _Parts(PartWriter):
    """What one worker writes: a file per partition, rolled over at the size targets."""

    def __init__(self, sink: FileSink, part_id: str) -> None:
        self.sink = sink
        self.part_id = part_id
        self.current: dict[str, _FilePart] = {}
        self.sequence: dict[str, int] = {}
        self.done: list[tuple[str, PartResult]] = []
        self.run = partitions.run_values(sink.ctx.run_id)
        self.empty: pa.RecordBatch | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            self.empty = self.empty or batch
            return
        for rel, rows in self.sink.layout.split(batch, self.run, step=self.sink.ctx.step):
            self._write(rel, rows)

    def _write(self, rel: str, rows: pa.RecordBatch) -> None:
        max_rows = self.sink.max_file_rows
        max_bytes = self.sink.config.max_file_bytes
        offset = 0
        while offset < rows.num_rows:
            part = self.current.get(rel) or self._open(rel)
            take = rows.num_rows - offset
            if max_rows:
                take = min(take, max_rows - part.rows)
            part.write(rows.slice(offset, take))
            offset += take
            if (max_rows and part.rows >= max_rows) or (
                    max_bytes and part.size() >= max_bytes):
                self._finish(rel)

    def _open(self, rel: str) -> _FilePart:
        if len(self.current) >= 64:  # many partitions: keep the number of open files bounded
            self._finish(next(iter(self.current)))
        seq = self.sequence.get(rel, 0)
        self.sequence[rel] = seq + 1
        part = self.sink.file_part(rel, self.part_id if self.sink.single_file
                                   else f"{self.part_id}_{seq:04d}")
        self.current[rel] = part
        return part

    def _finish(self, rel: str) -> None:
        result = self.current.pop(rel).close()
        if result is not None:
            self.done.append((rel, result))

    def close(self) -> PartResult | None:
        for rel in list(self.current):
            self._finish(rel)
        if not self.done and self.empty is not None and not self.sink.layout.partitioned:
            # No rows, but the schema is known: a file of no rows, which the commit
            # publishes if the whole run has no rows (a partition of no rows has no name).
            self._open("").write(self.empty)
            self._finish("")
        if not self.done:
            return None
        files = [{"path": r.location, "rows": r.rows, "bytes": r.bytes, "rel": rel,
                  "schema": r.extra.get("schema"), "spool": r.extra.get("spool")}
                 for rel, r in self.done]
        first = self.done[0][1]
        return PartResult(first.location, sum(f["rows"] for f in files),  # type: ignore[misc]
                          sum(f["bytes"] for f in files),  # type: ignore[misc]
                          extra={"schema": first.extra.get("schema"), "files": files})


def _files(parts: list[PartResult]) -> list[dict[str, Any]]:
    """Every file the parts wrote, in a stable order."""
    files = [f for p in parts for f in p.extra.get("files", [
        {"path": p.location, "rows": p.rows, "bytes": p.bytes, "rel": "",
         "schema": p.extra.get("schema"), "spool": p.extra.get("spool")}])]
    return sorted(files, key=lambda f: (f["rel"], f["path"]))


def _staged(file: dict[str, Any]) -> str:
    """Where a part's file is now: its local spool file (kept for a commit in the same
    process), else its staged path."""
    return str(file.get("spool") or file["path"])


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
        self.target = ctx.resolve_path(_with_run_id(config.path, ctx.run_id))
        self.options = config.store_options(ctx.step)
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
        # The folder that holds every partition; staging is a hidden sibling of it, so no
        # reader of the folder (or of a partition) sees staged files.
        self.layout = partitions.parse(self.target)
        self.max_file_rows = None if self.single_file else config.max_file_rows
        self.remote = fs.is_url(self.target)
        root = self.layout.root.rstrip("/")
        parent, name = (root.rsplit("/", 1) if self.remote and root.count("/") > 2
                        else (root, "") if self.remote else os.path.split(root))
        self.staging = fs.join(parent or ".", f".{name}.dteg-tmp-{ctx.run_id}" if name
                               else f".dteg-tmp-{ctx.run_id}")
        # URL targets: files are written here first, then uploaded whole.
        self.spool_dir = os.path.join(ctx.state_dir, "staging", ctx.run_id, ctx.step)

    def _part_name(self, part_id: str) -> str:
        suffix = {"gzip": ".gz", "zstd": ".zst", "bz2": ".bz2"}.get(self.compression, "") \
            if self.external else ""
        return f"part-{self.ctx.run_id}-{part_id}{self.extensions[0]}{suffix}"

    def file_part(self, rel: str, part_id: str) -> _FilePart:
        """A file of this run in the staging folder (under partition folder ``rel``)."""
        name = self._part_name(part_id)
        path = fs.join(fs.join(self.staging, rel) if rel else self.staging, name)
        spool = None
        if self.remote:
            os.makedirs(self.spool_dir, exist_ok=True)
            spool = os.path.join(self.spool_dir, f"{rel.replace('/', '~')}~{name}")
        return _FilePart(path, self.compression, self.open_format, self.external,
                         self.ctx.step, spool=spool, options=self.options,
                         keep_spool=self.single_file and self.ctx.plan.local_commit)

    def open_part(self, part_id: str) -> PartWriter:
        return _Parts(self, part_id)

    def commit(self, parts: list[PartResult]) -> CommitResult:
        rows = sum(p.rows for p in parts)
        target = self.layout.root if self.layout.partitioned else self.target
        if self.config.mode == "error" and fs.exists(target, self.options):
            self.abort(parts)
            raise ConnectorError(
                f"{target} already exists and `mode: error` is set", step=self.ctx.step,
                hint="Remove it, or use `mode: replace`.",
            )
        staged = _files(parts)
        # Files of no rows only carry the schema: one is published when the run has no rows
        # and replaces (or creates) the target; `append` adds nothing.
        files = [f for f in staged if f["rows"]] or (
            staged[:1] if self.config.mode != "append" else [])
        try:
            if self.single_file:
                self._commit_file(files)
            else:
                self._commit_folder(files)
        finally:
            if self.config.strategy == "batch":
                self._clean_staging()
            else:  # other micro-batches may still be writing into the staging folder
                self._clean_files(staged)
        return CommitResult(rows=rows, target=target,
                            detail=f"{len(files)} file(s)" if not self.single_file else "")

    def _clean_staging(self) -> None:
        """Best effort: a failure here must not hide the run's own error, nor fail a commit
        that has published everything (staged files are hidden from readers anyway)."""
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        try:
            fs.delete_tree(self.staging, self.options)
        except Exception as exc:
            log.warning("step `%s`: could not delete the staging folder %s (%s); it is "
                        "hidden from readers and can be deleted by hand", self.ctx.step,
                        self.staging, exc)

    def _clean_files(self, files: list[dict[str, Any]]) -> None:
        if self.remote:
            for f in files:
                fs.delete_file(f["path"], self.options)
            return
        for folder in sorted({os.path.dirname(f["path"]) for f in files}, reverse=True):
            while folder.startswith(self.staging):
                try:
                    os.rmdir(folder)
                except OSError:
                    break
                folder = os.path.dirname(folder)

    def _commit_file(self, files: list[dict[str, Any]]) -> None:
        if not files:
            # No rows and not even a schema this run (no input file matched): `replace`
            # must not leave the last run's rows looking current (a folder is emptied too).
            if self.config.mode == "replace" and fs.exists(self.target, self.options):
                fs.delete_file(self.target, self.options)
            return
        if len(files) == 1:
            fs.publish(_staged(files[0]), self.target, self.options)
            return
        # Several parts (several workers) make one file: merged locally, then published.
        work = self.spool_dir if self.remote else self.staging
        os.makedirs(work, exist_ok=True)
        sources = [self._local_copy(_staged(f), work) for f in files]
        merged = os.path.join(work, f"merged-{uuid.uuid4().hex}{self.extensions[0]}")
        if self.header_lines is not None and len({f.get("schema") for f in files}) == 1:
            self._concatenate(sources, merged)
        else:
            writer = _FilePart(merged, self.compression, self.open_format, self.external,
                               self.ctx.step)
            for source in sources:
                for batch in self.read_part(source):
                    writer.write(batch)
            writer.close()
        fs.publish(merged, self.target, self.options)

    def _local_copy(self, path: str, work: str) -> str:
        if not fs.is_store(path):
            return path
        copy = os.path.join(work, f"in-{uuid.uuid4().hex}-{os.path.basename(path)}")
        fs.object_store.download(path, copy, self.options)
        return copy

    def _concatenate(self, sources: list[str], merged: str) -> None:
        with fs.open_write(merged, self.compression) as out:
            for index, source in enumerate(sources):
                with fs.open_read(source, self.compression) as stream:
                    if index:
                        for _ in range(self.header_lines or 0):
                            stream.readline()
                    shutil.copyfileobj(stream, out, 1 << 20)

    def _commit_folder(self, files: list[dict[str, Any]]) -> None:
        root = self.layout.root if self.layout.partitioned else self.target
        if (self.config.mode == "replace" and not self.remote
                and not self.layout.partitioned and self.config.strategy == "batch"):
            # Local folder: swap it whole (one rename), then drop the old one.
            old = f"{self.target.rstrip('/')}.dteg-old-{self.ctx.run_id}"
            fresh = self.staging
            if not files:
                os.makedirs(fresh, exist_ok=True)
            if os.path.exists(self.target.rstrip("/")):
                os.replace(self.target.rstrip("/"), old)
            os.replace(fresh, self.target.rstrip("/"))
            fs.delete_tree(old)
            return
        # Publish every new file, then (replace) delete the old ones of each folder written:
        # a reader never finds a folder without its data. Retrying a publish overwrites the
        # same key, so nothing is doubled.
        published: dict[str, set[str]] = {}
        for f in files:
            folder = fs.join(root, f["rel"]) if f["rel"] else root
            dst = fs.join(folder, os.path.basename(f["path"]))
            fs.publish(_staged(f), dst, self.options)
            published.setdefault(folder, set()).add(dst)
        if self.config.mode != "replace":
            return
        if not self.layout.partitioned:
            published.setdefault(root, set())  # no rows: the folder is emptied
        for folder, new in published.items():
            stale = [p for p in fs.list_folder(folder, self.options) if p not in new]
            if stale and fs.is_store(folder):
                fs.object_store.delete(stale, self.options)
            else:
                for path in stale:
                    fs.delete_file(path, self.options)

    def abort(self, parts: list[PartResult]) -> None:
        if self.config.strategy == "batch":
            self._clean_staging()
        else:
            self._clean_files(_files(parts))

    def describe(self) -> str:
        return self.target
