"""Write Parquet files (one file, or a folder of part files)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dteg.components.contracts import RunContext
from dteg.connectors import filesystem as fs
from dteg.connectors.file_sink import FileSink
from dteg.connectors.parquet.config import SinkConfig


def create(config: SinkConfig, ctx: RunContext) -> FileSink:
    codec = "snappy" if config.compression == "auto" else config.compression

    def open_format(stream: Any, schema: pa.Schema, _compression: str) -> Any:
        writer = pq.ParquetWriter(stream, schema, compression=codec)

        class _Writer:
            def write(self, batch: pa.RecordBatch) -> None:
                writer.write_batch(batch, row_group_size=config.row_group_rows)

            def close(self) -> None:
                writer.close()

        return _Writer()

    def read_part(path: str) -> Iterator[pa.RecordBatch]:
        with fs.open_read(path, "none", binary_seekable=True) as stream:
            yield from pq.ParquetFile(stream).iter_batches()

    generic = config.model_copy(update={"compression": "none"})
    return FileSink(generic, ctx, extensions=(".parquet", ".pq"), open_format=open_format,
                    read_part=read_part, external_compression=False)
