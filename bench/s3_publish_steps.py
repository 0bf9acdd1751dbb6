"""The publish of one Parquet object on S3, step by step: the staged publish (upload to a
hidden staging key, server-side copy to the final key, delete the staged key) against the
direct one (one upload to the final key at the commit, what a bounded in-process run does
since 2026-12-02), interleaved A B A B on the same file, medians.

    .venv/bin/python bench/s3_publish_steps.py [--rows 1000000] [--pairs 3]

Writes the cached ``orders_<rows>.csv`` to a local snappy Parquet file first (pyarrow), then
times ``dteg.connectors.object_store`` calls against its own moto server (127.0.0.1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

import benchlib
from benchlib import REPO
from s3_parquet import client, free_port, s3_env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    sys.path.insert(0, str(REPO))
    from dteg.connectors import object_store as store
    from dteg.connectors.object_store import StoreOptions

    data, _ = benchlib.ensure_input(args.rows)
    work = benchlib.workdir("s3_publish_steps")
    local = str(work / "part.parquet")
    pq.write_table(pacsv.read_csv(data), local, compression="snappy")
    port = free_port()
    env = s3_env(port, work / "s3-state")
    endpoint = f"http://127.0.0.1:{port}"
    subprocess.run([str(REPO / "scripts" / "services" / "s3"), "start"], env=env, check=True)
    try:
        client(endpoint).create_bucket(Bucket="bench")
        opt = StoreOptions(endpoint_url=endpoint, region="us-east-1", access_key_id="dteg",
                           secret_access_key="dteg-secret")
        staged: list[tuple[float, float, float]] = []
        direct: list[float] = []
        for i in range(args.pairs):
            for variant in (("staged", "direct") if i % 2 == 0 else ("direct", "staged")):
                t0 = time.perf_counter()
                if variant == "direct":
                    store.upload(local, "s3://bench/direct.parquet", opt)
                    direct.append(time.perf_counter() - t0)
                    continue
                tmp = "s3://bench/.staged.dteg-tmp/part.parquet"
                store.upload(local, tmp, opt)
                t1 = time.perf_counter()
                store.copy(tmp, "s3://bench/staged.parquet", opt)
                t2 = time.perf_counter()
                store.delete([tmp], opt)
                staged.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
    finally:
        subprocess.run([str(REPO / "scripts" / "services" / "s3"), "stop"], env=env,
                       check=False)
    size = os.path.getsize(local) / 1e6
    shutil.rmtree(work, ignore_errors=True)
    step = [statistics.median(s[k] for s in staged) for k in range(3)]
    total = statistics.median(sum(s) for s in staged)
    one = statistics.median(direct)
    print(f"one {size:.1f} MB Parquet object ({args.rows:,} rows), median of {args.pairs}")
    print(f"  staged: upload {step[0]:.2f} s + copy {step[1]:.2f} s + delete {step[2]:.2f} s"
          f" = {total:.2f} s")
    print(f"  direct: upload to the final key {one:.2f} s")
    print(f"  direct / staged = {one / total:.2f}")
    print(benchlib.machine_note())
    return 0


if __name__ == "__main__":
    sys.exit(main())
