"""Baseline of bench/rest_bench.py: the same extraction as a hand-written ``requests`` loop.

What a competent engineer writes without a framework: one ``requests.Session``, GET page
after page (``page=N&per_page=SIZE``) until a short page, take ``data`` from each JSON
answer, keep nested values as JSON text (the same columns dteg infers), and append each page
to one Parquet file with a ``pyarrow.parquet.ParquetWriter`` (written to a temporary name,
renamed into place). No retries, rate limit, dead letters or state.

    python bench/baselines/rest_requests_loop.py --url http://127.0.0.1:P/page \
        --page-size 1000 --output out/rest.parquet
"""

from __future__ import annotations

import argparse
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    tmp = args.output + ".tmp"
    writer: pq.ParquetWriter | None = None
    rows = 0
    page = 1
    with requests.Session() as session:
        while True:
            answer = session.get(args.url, params={"page": page, "per_page": args.page_size},
                                 timeout=60)
            answer.raise_for_status()
            records = answer.json()["data"]
            if records:
                for r in records:
                    for key, value in r.items():
                        if isinstance(value, (dict, list)):
                            r[key] = json.dumps(value)
                table = pa.Table.from_pylist(records)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                rows += len(records)
            if len(records) < args.page_size:
                break
            page += 1
    if writer is not None:
        writer.close()
        os.replace(tmp, args.output)
    print(json.dumps({"rows": rows, "pages": page}))


if __name__ == "__main__":
    main()
