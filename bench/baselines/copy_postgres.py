"""Hand-written baseline: ``COPY (SELECT * FROM t) TO STDOUT (FORMAT csv)`` over psycopg 3,
parsed by pyarrow's streaming CSV reader with the column types read from the catalog, written
by one ParquetWriter. What a careful engineer would write for this one table.

    python bench/baselines/copy_postgres.py --url postgresql://… --table t --output out.parquet
"""

from __future__ import annotations

import argparse
import io

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

TYPES = {"integer": pa.int32(), "bigint": pa.int64(), "smallint": pa.int16(), "text": pa.string(),
         "boolean": pa.bool_(), "timestamp without time zone": pa.timestamp("us"),
         "timestamp with time zone": pa.timestamp("us", "UTC"), "date": pa.date32(),
         "double precision": pa.float64()}


class CopyStream(io.RawIOBase):
    """COPY's chunks as a file object for pyarrow."""

    def __init__(self, copy: psycopg.Copy) -> None:
        self.chunks = iter(copy)
        self.buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray) -> int:  # type: ignore[override]
        while not self.buffer:
            try:
                self.buffer = memoryview(bytes(next(self.chunks)))
            except StopIteration:
                return 0
        n = min(len(target), len(self.buffer))
        target[:n] = self.buffer[:n]
        self.buffer = self.buffer[n:]
        return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    with psycopg.connect(args.url) as con:
        columns = con.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM "
            "information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (args.table,)).fetchall()
        types = {name: pa.decimal128(p, s) if kind == "numeric" else TYPES[kind]
                 for name, kind, p, s in columns}
        with con.cursor().copy(f"COPY (SELECT * FROM {args.table}) TO STDOUT (FORMAT csv)"
                               ) as copy:
            reader = pacsv.open_csv(
                io.BufferedReader(CopyStream(copy), 1 << 20),
                read_options=pacsv.ReadOptions(column_names=list(types), block_size=1 << 22),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, true_values=["t"], false_values=["f"],
                    strings_can_be_null=True, quoted_strings_can_be_null=False,
                    timestamp_parsers=["%Y-%m-%d %H:%M:%S%z", pacsv.ISO8601]))
            with pq.ParquetWriter(args.output, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)


if __name__ == "__main__":
    main()
