"""Baseline for bench/gcs_parquet.py: CSV → Parquet on GCS, hand-written with pyarrow +
google-cloud-storage.

Streams the CSV with pyarrow.csv into a local Parquet file (snappy), then uploads it with
``upload_from_filename`` (resumable for large files): one object, complete or absent.

    python bench/baselines/pyarrow_gcs.py --input orders.csv --url gs://bucket/key.parquet
"""

from __future__ import annotations

import argparse
import os
import tempfile

from csv_parquet_local import csv_to_parquet
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    bucket, key = args.url.removeprefix("gs://").split("/", 1)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "out.parquet")
        rows = csv_to_parquet(args.input, local)
        gcs = storage.Client(project="bench", credentials=AnonymousCredentials(),
                             client_options={"api_endpoint": os.environ["BENCH_GCS_ENDPOINT"]})
        gcs.bucket(bucket).blob(key).upload_from_filename(local)
    print(f"wrote {rows} rows to {args.url}")


if __name__ == "__main__":
    main()
