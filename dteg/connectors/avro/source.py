"""Stream Avro container files as Arrow batches (fastavro)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fastavro
import pyarrow as pa

from dteg.connectors import filesystem as fs
from dteg.connectors.avro.config import SourceConfig
from dteg.connectors.avro.schema import to_arrow_schema
from dteg.engine.contracts import BatchReader, Rejected, RunContext
from dteg.engine.types import parse_type
from dteg.errors import ConnectorError


class AvroReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.patterns = [ctx.resolve_path(p) for p in config.paths()]

    def splits(self) -> list[Any]:
        return fs.expand(self.patterns, step=self.ctx.step, allow_empty=self.config.allow_empty)

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        path = str(split)
        with fs.open_read(path, "none", binary_seekable=True) as stream:
            try:
                reader = fastavro.reader(stream)
            except (ValueError, fastavro.read.SchemaResolutionError) as exc:
                raise ConnectorError(f"{path} is not a readable Avro file: {exc}",
                                     step=self.ctx.step) from None
            schema = to_arrow_schema(reader.writer_schema)  # type: ignore[arg-type]
            for column, type_name in (self.config.schema_ or {}).items():
                index = schema.get_field_index(column)
                if index >= 0:
                    schema = schema.set(index, pa.field(column, parse_type(type_name)))
            rows: list[dict[str, Any]] = []
            for record in reader:
                rows.append(record)  # type: ignore[arg-type]
                if len(rows) >= self.config.batch_rows:
                    yield self._batch(rows, schema, path)
                    rows = []
            if rows:
                yield self._batch(rows, schema, path)

    def _batch(self, rows: list[dict[str, Any]], schema: pa.Schema, path: str) -> pa.RecordBatch:
        try:
            batch = pa.RecordBatch.from_pylist(rows, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ConnectorError(f"{path}: cannot convert records to the schema: {exc}",
                                 step=self.ctx.step) from None
        if self.config.filename_column:
            batch = batch.append_column(self.config.filename_column,
                                        pa.array([path] * batch.num_rows, pa.string()))
        return batch


def create(config: SourceConfig, ctx: RunContext) -> AvroReader:
    return AvroReader(config, ctx)
