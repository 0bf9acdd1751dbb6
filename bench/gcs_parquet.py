"""CSV → Parquet on Google Cloud Storage (fake-gcs-server): dteg against a hand-written
pyarrow + google-cloud-storage script.

Starts its own fake-gcs-server on 127.0.0.1 (``scripts/services/gcs``), then runs each
variant as its own subprocess on the same cached input, interleaved A B A B:

  dteg     ``dteg run`` of a csv → parquet pipeline whose target is ``gs://bench/<run>.parquet``
           (parts spooled locally, uploaded to a hidden staging object, published by a rewrite)
  pyarrow  ``bench/baselines/pyarrow_gcs.py``: pyarrow.csv → local Parquet →
           google-cloud-storage upload_from_filename

Both write snappy Parquet; each output's row count is read back from the server and checked.
Reports the median of ``--repeat`` runs and the ratio dteg / pyarrow.

    .venv/bin/python bench/gcs_parquet.py --rows 1000000 --repeat 3

The measured dteg needs its ``gcs`` extra (google-cloud-storage). A ``PYTHONPATH`` set by the
caller (a worktree) is passed on to both variants.
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
  name: bench_gcs_parquet
  steps:
    - extract:
        type: csv
        config: {{path: "{input}"}}
    - load:
        type: parquet
        config:
          path: "{url}"
          gcs_api_endpoint: ${{env:BENCH_GCS_ENDPOINT}}
          gcs_anonymous: true
"""


def gcs_env(port: int, state: Path) -> dict[str, str]:
    return {**os.environ, "DTEG_GCS_PORT": str(port), "DTEG_GCS_DIR": str(state)}


def client(endpoint: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="bench", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": endpoint})


def rows_at(endpoint: str, key: str) -> int:
    import pyarrow.parquet as pq

    body = client(endpoint).bucket("bench").blob(key).download_as_bytes()
    return int(pq.read_metadata(io.BytesIO(body)).num_rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median kept)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    input_path, _meta = benchlib.ensure_input(args.rows)
    work = benchlib.workdir("gcs_parquet")
    port = pairs.free_port()
    env = gcs_env(port, work / "gcs-state")
    endpoint = f"http://127.0.0.1:{port}"
    subprocess.run([str(REPO / "scripts" / "services" / "gcs"), "start"], env=env, check=True)
    ok = False
    seconds: dict[str, list[float]] = {}
    try:
        client(endpoint).create_bucket("bench")
        run_env = {**os.environ, "BENCH_GCS_ENDPOINT": endpoint}

        command = pairs.csv_to_store(PIPELINE, "pyarrow_gcs.py", input_path, "gs", work,
                                     run_env)
        seconds, ok = pairs.run_pairs(VARIANTS, args.repeat, args.rows, work, command,
                                      lambda name, i: rows_at(endpoint, f"{name}-{i}.parquet"))
    finally:
        subprocess.run([str(REPO / "scripts" / "services" / "gcs"), "stop"], env=env,
                       check=False)
    pairs.report("CSV → Parquet on GCS (fake-gcs-server, 127.0.0.1)", seconds, args.rows,
                 "rows", "pyarrow", "pyarrow+google-cloud-storage")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
