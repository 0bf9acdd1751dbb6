"""Baseline for bench/s3_parquet.py: CSV → Parquet on S3, hand-written with pyarrow + boto3.

Streams the CSV with pyarrow.csv into a local Parquet file (snappy), then uploads it with
boto3's managed transfer (multipart for large files): one object, complete or absent.

    python bench/baselines/pyarrow_boto3_s3.py --input orders.csv --url s3://bucket/key.parquet
"""

from __future__ import annotations

import argparse
import os
import tempfile

import boto3
from botocore.config import Config
from csv_parquet_local import csv_to_parquet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    bucket, key = args.url.removeprefix("s3://").split("/", 1)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "out.parquet")
        rows = csv_to_parquet(args.input, local)
        s3 = boto3.client("s3", endpoint_url=os.environ["BENCH_S3_ENDPOINT"],
                          region_name="us-east-1", aws_access_key_id="dteg",
                          aws_secret_access_key="dteg-secret",
                          config=Config(s3={"addressing_style": "path"}))
        s3.upload_file(local, bucket, key)
    print(f"wrote {rows} rows to {args.url}")


if __name__ == "__main__":
    main()
