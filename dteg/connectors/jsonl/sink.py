"""Write JSON Lines files (one file, or a folder of part files), optionally gzip/zstd."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dteg.components.contracts import RunContext
from dteg.components.records import _json_default
from dteg.connectors import filesystem as fs
from dteg.connectors.file_sink import FileSink
from dteg.connectors.jsonl.config import SinkConfig


class _JsonlWriter:
    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, batch: pa.RecordBatch) -> None:
        lines = [json.dumps(row, default=_json_default, ensure_ascii=False)
                 for row in batch.to_pylist()]
        self.stream.write(("\n".join(lines) + "\n").encode("utf-8"))

    def close(self) -> None:
        self.stream.flush()


def create(config: SinkConfig, ctx: RunContext) -> FileSink:
    def open_format(stream: Any, schema: pa.Schema, _compression: str) -> Any:
        return _JsonlWriter(stream)

    def read_part(path: str) -> Iterator[pa.RecordBatch]:
        rows: list[dict[str, Any]] = []
        with fs.open_read(path, fs.compression_of(path, "auto")) as stream:
            for raw in stream:
                if raw.strip():
                    rows.append(json.loads(raw))
                if len(rows) >= 65_536:
                    yield pa.RecordBatch.from_pylist(rows)
                    rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows)

    return FileSink(config, ctx, extensions=(".jsonl", ".ndjson", ".json"),
                    open_format=open_format, read_part=read_part, external_compression=True,
                    header_lines=0)
