"""Stream Avro container files as Arrow batches (fastavro)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import fastavro
import pyarrow as pa

from dteg.components.contracts import BatchReader, Rejected, RunContext, as_batch
from dteg.components.records import dead_letters, row_json, with_provenance
from dteg.components.types import parse_type
from dteg.connectors import filesystem as fs
from dteg.connectors.avro.config import SourceConfig
from dteg.connectors.avro.schema import to_arrow_schema
from dteg.connectors.casting import cast_declared
from dteg.errors import ConnectorError


class AvroReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.patterns = [ctx.resolve_path(p) for p in config.paths()]
        self.declared = {c: parse_type(t) for c, t in (config.schema_ or {}).items()}

    def size_hint(self) -> int | None:
        return fs.local_size(self.patterns)

    def splits(self) -> list[Any]:
        return fs.expand(self.patterns, step=self.ctx.step, allow_empty=self.config.allow_empty,
                         example="*.avro",
                         options=self.config.store_options(self.ctx.step))

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        path = str(split)
        with fs.open_read(path, "none", binary_seekable=True,
                          options=self.config.store_options(self.ctx.step)) as stream:
            try:
                reader = fastavro.reader(stream)
            except (ValueError, EOFError, OSError, fastavro.read.SchemaResolutionError) as exc:
                raise ConnectorError(f"{path} is not a readable Avro file: {exc}",
                                     step=self.ctx.step) from None
            writer_schema: dict[str, Any] = reader.writer_schema  # type: ignore[assignment]
            schema = to_arrow_schema(writer_schema)
            unknown = [c for c in self.declared if c not in schema.names]
            if unknown:
                raise ConnectorError(
                    f"the declared schema names column(s) {unknown} that {path} does not "
                    f"have (its columns: {schema.names})", step=self.ctx.step,
                    hint="Fix the names under `schema:` (they are case-sensitive).")
            as_text = _uuid_fields(writer_schema)
            rows: list[dict[str, Any]] = []
            records = iter(reader)
            read = 0
            while True:
                try:
                    record = next(records, None)
                except (EOFError, OSError, ValueError, zlib.error) as exc:
                    # fastavro raises these for a truncated file or a damaged block.
                    raise ConnectorError(
                        f"{path} is truncated or corrupt after record {read}: "
                        f"{exc or type(exc).__name__}", step=self.ctx.step,
                        hint="Check that the file was completely written.") from None
                if record is None:
                    break
                read += 1
                row: dict[str, Any] = record  # type: ignore[assignment]
                for name in as_text:  # fastavro hands out uuid.UUID objects
                    if row[name] is not None:
                        row[name] = str(row[name])
                rows.append(row)
                if len(rows) >= self.config.batch_rows:
                    yield from self._batch(rows, schema, path, read - len(rows) + 1)
                    rows = []
            # Also with no rows left: the columns (dropped if there were rows).
            yield from self._batch(rows, schema, path, read - len(rows) + 1)

    def _batch(self, rows: list[dict[str, Any]], schema: pa.Schema, path: str,
               first: int) -> Iterator[pa.RecordBatch | Rejected]:
        try:
            batch = pa.RecordBatch.from_pylist(rows, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ConnectorError(f"{path}: cannot convert records to the schema: {exc}",
                                 step=self.ctx.step) from None
        positions: list[int] | None = None
        if self.declared:
            try:
                table, failures = cast_declared(pa.Table.from_batches([batch]), self.declared)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ConnectorError(f"{path}: cannot apply the declared schema: {exc}",
                                     step=self.ctx.step) from None
            if failures:
                yield Rejected(dead_letters(
                    pipeline=self.ctx.pipeline, step=self.ctx.step,
                    reasons=[r for _, _, r in failures], columns=[c for _, c, _ in failures],
                    records=[row_json(rows[i], self.ctx.mask_row) for i, _, _ in failures],
                    sources=[f"{path} (record {first + i})" for i, _, _ in failures],
                ))
            if table.num_rows == 0 and batch.num_rows:
                return
            failed = {i for i, _, _ in failures}
            positions = [first + i for i in range(batch.num_rows) if i not in failed]
            batch = as_batch(table)
        if self.config.filename_column:
            batch = batch.append_column(self.config.filename_column,
                                        pa.array([path] * batch.num_rows, pa.string()))
        # Each row's place in the file, for the dead letters of later stages.
        yield with_provenance(batch, f"{path} (record {{}})", first=first, positions=positions)


def _uuid_fields(record: dict[str, Any]) -> list[str]:
    names = []
    for f in record.get("fields", []):
        kind = f["type"]
        branches = kind if isinstance(kind, list) else [kind]
        if any(isinstance(b, dict) and b.get("logicalType") == "uuid" for b in branches):
            names.append(f["name"])
    return names


def create(config: SourceConfig, ctx: RunContext) -> AvroReader:
    return AvroReader(config, ctx)
