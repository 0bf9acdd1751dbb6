"""Baseline of bench/fixed_cost.py: the csv_pipeline job written with the Beam Python SDK.

What a Beam user writes by hand for CSV → validate (id and email not empty, email full-matches
the pattern) → HMAC-SHA256 the email → one Parquet file, rejected rows (email hashed too) to a
JSONL beside it: ``ReadFromText`` → parse with ``csv`` → tagged outputs → ``WriteToParquet``
(one shard) and ``WriteToText``, on the in-process FnApiRunner (the plain DirectRunner first
tries to download Prism). Its fixed cost is Beam's: import, graph, runner start, file sinks'
finalize.

    BENCH_MASK_KEY=k python bench/baselines/beam_sdk_csv.py --input in.csv --output out.parquet
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hmac
import json
import os
import re
import sys

EMAIL = re.compile(r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$")


def run(input_path: str, output_path: str, key: bytes) -> None:
    import apache_beam as beam
    import pyarrow as pa
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    with open(input_path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    schema = pa.schema([("id", pa.int64()), ("email", pa.string()), ("name", pa.string()),
                        ("phone", pa.string()), ("country", pa.string()),
                        ("amount", pa.float64()), ("created_at", pa.timestamp("us", "UTC"))])

    def digest(value: str) -> str:
        return hmac.digest(key, value.encode("utf-8"), "sha256").hex()

    def parse(line: str):
        row = dict(zip(header, next(csv.reader([line])), strict=False))
        if not row.get("id") or not row.get("email") or not EMAIL.fullmatch(row["email"]):
            if row.get("email"):
                row["email"] = digest(row["email"])
            yield beam.pvalue.TaggedOutput("rejected", json.dumps(row))
            return
        yield {"id": int(row["id"]), "email": digest(row["email"]), "name": row["name"] or None,
               "phone": row["phone"] or None, "country": row["country"] or None,
               "amount": float(row["amount"]) if row["amount"] else None,
               "created_at": dt.datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
               if row["created_at"] else None}

    with beam.Pipeline(runner=FnApiRunner()) as p:
        rows = (p | beam.io.ReadFromText(input_path, skip_header_lines=1)
                | beam.FlatMap(parse).with_outputs("rejected", main="kept"))
        _ = rows.kept | beam.io.WriteToParquet(output_path, schema, num_shards=1,
                                               shard_name_template="")
        _ = rows.rejected | beam.io.WriteToText(output_path + ".rejected.jsonl",
                                                num_shards=1, shard_name_template="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    run(args.input, args.output, os.environ["BENCH_MASK_KEY"].encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
