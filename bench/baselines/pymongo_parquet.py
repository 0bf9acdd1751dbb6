"""The baseline of bench/mongodb_to_parquet.py: a hand-written pymongo → pyarrow → Parquet
loop (find in batches, ObjectId as hex, sub-documents as JSON text, one row group per chunk).

    python bench/baselines/pymongo_parquet.py --url mongodb://127.0.0.1:57017/bench \
        --collection orders --out out.parquet
"""

from __future__ import annotations

import argparse
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pymongo

CHUNK = 10_000


def plain(doc: dict) -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict | list):
            out[key] = json.dumps(value, default=str, separators=(",", ":"))
        elif type(value).__name__ == "ObjectId":
            out[key] = str(value)
        else:
            out[key] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    client: pymongo.MongoClient = pymongo.MongoClient(args.url, tz_aware=True)
    docs = client.get_default_database()[args.collection].find({}, batch_size=CHUNK)
    writer = None
    chunk: list[dict] = []

    def flush() -> None:
        nonlocal writer
        table = pa.Table.from_pylist(chunk)
        if writer is None:
            writer = pq.ParquetWriter(args.out, table.schema)
        writer.write_table(table.cast(writer.schema))
        chunk.clear()

    for doc in docs:
        chunk.append(plain(doc))
        if len(chunk) >= CHUNK:
            flush()
    if chunk:
        flush()
    if writer is not None:
        writer.close()
    client.close()


if __name__ == "__main__":
    main()
