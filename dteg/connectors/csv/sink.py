"""Write CSV files (one file, or a folder of part files), optionally gzip/zstd."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from dteg.components.contracts import RunContext
from dteg.connectors import filesystem as fs
from dteg.connectors.csv.config import SinkConfig
from dteg.connectors.file_sink import FileSink


def create(config: SinkConfig, ctx: RunContext) -> FileSink:
    def open_format(stream: Any, schema: pa.Schema, _compression: str) -> Any:
        options = pacsv.WriteOptions(include_header=config.header, delimiter=config.delimiter)
        return pacsv.CSVWriter(stream, schema, write_options=options)

    def read_part(path: str) -> Iterator[pa.RecordBatch]:
        with fs.open_read(path, fs.compression_of(path, "auto")) as stream:
            reader = pacsv.open_csv(
                stream, parse_options=pacsv.ParseOptions(delimiter=config.delimiter))
            yield from reader

    return FileSink(config, ctx, extensions=(".csv", ".tsv", ".txt"), open_format=open_format,
                    read_part=read_part, external_compression=True,
                    header_lines=1 if config.header else 0)
