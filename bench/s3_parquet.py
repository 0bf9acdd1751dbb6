"""CSV → Parquet on an S3-compatible server: dteg against a hand-written pyarrow + boto3 script.

Starts its own S3 server on 127.0.0.1 (moto's server mode via ``scripts/services/s3``), then
runs each variant as its own subprocess on the same cached input:

  dteg     ``dteg run`` of a csv → parquet pipeline whose target is ``s3://bench/<run>.parquet``
           (one process: the part is spooled locally and uploaded once, to the final key, at the
           commit; before 2026-12-02: uploaded to a hidden staging key, then copied)
  pyarrow  ``bench/baselines/pyarrow_boto3_s3.py``: pyarrow.csv → local Parquet → boto3
           upload_file

Both write snappy Parquet; each output's row count is read back from the server and checked.
Reports the median of ``--repeat`` runs and the ratio dteg / pyarrow.

    .venv/bin/python bench/s3_parquet.py --rows 1000000 --repeat 3

The measured dteg needs its ``s3`` extra (boto3): with ``DTEG_BENCH_VENV=.venv-bench`` install
``dteg[s3]`` there first.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import benchlib
import pairs
from benchlib import REPO

VARIANTS = ("dteg", "pyarrow")
PIPELINE = """pipeline:
  name: bench_s3_parquet
  steps:
    - extract:
        type: csv
        config: {{path: "{input}"}}
    - load:
        type: parquet
        config:
          path: "{url}"
          endpoint_url: ${{env:BENCH_S3_ENDPOINT}}
          region: us-east-1
          access_key_id: dteg
          secret_access_key: dteg-secret
"""


def s3_env(port: int, state: Path) -> dict[str, str]:
    # The server runs on the dev venv (moto is a test dependency, not one of dteg's).
    server_python = REPO / ".venv" / "bin" / "python"
    return {**os.environ, "DTEG_S3_PORT": str(port), "DTEG_S3_DIR": str(state),
            "DTEG_PYTHON": str(server_python if server_python.exists() else sys.executable)}


def client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="dteg", aws_secret_access_key="dteg-secret",
                        config=Config(s3={"addressing_style": "path"}))


def rows_at(endpoint: str, key: str) -> int:
    import pyarrow.parquet as pq

    body = client(endpoint).get_object(Bucket="bench", Key=key)["Body"].read()
    return int(pq.read_metadata(io.BytesIO(body)).num_rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median kept)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    input_path, _meta = benchlib.ensure_input(args.rows)
    work = benchlib.workdir("s3_parquet")
    port = pairs.free_port()
    env = s3_env(port, work / "s3-state")
    endpoint = f"http://127.0.0.1:{port}"
    subprocess.run([str(REPO / "scripts" / "services" / "s3"), "start"], env=env, check=True)
    ok = False
    seconds: dict[str, list[float]] = {}
    try:
        client(endpoint).create_bucket(Bucket="bench")
        run_env = {**os.environ, "BENCH_S3_ENDPOINT": endpoint}
        run_env.pop("PYTHONPATH", None)

        command = pairs.csv_to_store(PIPELINE, "pyarrow_boto3_s3.py", input_path, "s3", work,
                                     run_env)
        seconds, ok = pairs.run_pairs(VARIANTS, args.repeat, args.rows, work, command,
                                      lambda name, i: rows_at(endpoint, f"{name}-{i}.parquet"))
    finally:
        subprocess.run([str(REPO / "scripts" / "services" / "s3"), "stop"], env=env,
                       check=False)
    pairs.report("CSV → Parquet on S3 (moto server, 127.0.0.1)", seconds, args.rows, "rows",
                 "pyarrow", "pyarrow+boto3")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
