"""Write Avro container files (fastavro)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fastavro
import pyarrow as pa

from dteg.components.contracts import RunContext
from dteg.connectors import filesystem as fs
from dteg.connectors.avro.config import SinkConfig
from dteg.connectors.avro.schema import from_arrow_schema, to_arrow_schema
from dteg.connectors.file_sink import FileSink


def create(config: SinkConfig, ctx: RunContext) -> FileSink:
    codec = "deflate" if config.compression == "auto" else (
        "null" if config.compression == "none" else config.compression)

    def open_format(stream: Any, schema: pa.Schema, _compression: str) -> Any:
        parsed = fastavro.parse_schema(from_arrow_schema(schema, config.record_name))
        writer = fastavro.write.Writer(stream, parsed, codec=codec)

        # Arrow hands out a map as a list of (key, value) pairs; Avro wants a dict.
        maps = [f.name for f in schema if pa.types.is_map(f.type)]

        class _Writer:
            def write(self, batch: pa.RecordBatch) -> None:
                for row in batch.to_pylist():
                    for name in maps:
                        if row[name] is not None:
                            row[name] = dict(row[name])
                    writer.write(row)

            def close(self) -> None:
                writer.flush()

        return _Writer()

    def read_part(path: str) -> Iterator[pa.RecordBatch]:
        with fs.open_read(path, "none", binary_seekable=True) as stream:
            reader = fastavro.reader(stream)
            schema = to_arrow_schema(reader.writer_schema)  # type: ignore[arg-type]
            rows: list[Any] = []
            for record in reader:
                rows.append(record)
                if len(rows) >= 65_536:
                    yield pa.RecordBatch.from_pylist(rows, schema=schema)
                    rows = []
            if rows:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)

    generic = config.model_copy(update={"compression": "none"})
    return FileSink(generic, ctx, extensions=(".avro",), open_format=open_format,
                    read_part=read_part, external_compression=False)
