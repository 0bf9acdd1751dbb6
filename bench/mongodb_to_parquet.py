"""MongoDB → Parquet: dteg's MongoDB source against a hand-written pymongo + pyarrow loop.

Starts its own FerretDB (the MongoDB wire-protocol server of ``scripts/services/ferretdb``,
SQLite backend) on a free port with a state folder under bench/out, fills a collection with
``--docs`` orders (a sub-document and an array each), then runs each variant as its own
subprocess, interleaved (dteg, pymongo, dteg, pymongo …):

  dteg     ``dteg run`` of a mongodb → parquet pipeline (sampled schema; nested values as
           JSON text)
  pymongo  ``bench/baselines/pymongo_parquet.py``: find in batches of 10,000 → pyarrow →
           Parquet

Each output's row count is checked. Prints the medians and the ratio dteg / pymongo. The
server, not the client, dominates here (FerretDB on SQLite is far slower than MongoDB), so the
ratio says what dteg adds to the same reads, not how fast MongoDB is.

    PYTHONPATH=. .venv/bin/python bench/mongodb_to_parquet.py --docs 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys

import benchlib
import pairs
from benchlib import BENCH_DIR, PYTHON, REPO

VARIANTS = ("dteg", "pymongo")
SCRIPT = REPO / "scripts" / "services" / "ferretdb"
PIPELINE = """pipeline:
  name: bench_mongodb_parquet
  steps:
    - extract:
        type: mongodb
        config: {{url: "{url}", collection: orders}}
    - load:
        type: parquet
        config: {{path: "{out}"}}
"""


def fill(url: str, docs: int) -> None:
    import pymongo

    client: pymongo.MongoClient = pymongo.MongoClient(url)
    orders = client.get_default_database().orders
    orders.drop()
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for start in range(0, docs, 5000):
        orders.insert_many([{
            "order_id": i, "customer": {"name": f"c{i}", "city": "Seoul"}, "amount": i * 0.5,
            "items": [{"sku": f"s{i % 97}", "qty": i % 5}], "status": "paid",
            "at": t0 + dt.timedelta(seconds=i)} for i in range(start, min(docs, start + 5000))],
            ordered=False)
    client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median kept)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    work = benchlib.workdir("mongodb_to_parquet")
    port = pairs.free_port()
    env = {**os.environ, "DTEG_FERRETDB_PORT": str(port),
           "DTEG_FERRETDB_DEBUG_PORT": str(pairs.free_port()),
           "DTEG_FERRETDB_DIR": str(work / "ferretdb")}
    url = f"mongodb://127.0.0.1:{port}/bench"
    subprocess.run([str(SCRIPT), "start"], env=env, check=True)
    ok = False
    seconds: dict[str, list[float]] = {}
    try:
        fill(url, args.docs)

        def command(name: str, i: int) -> tuple[list[str], dict[str, str]]:
            out = work / f"{name}-{i}.parquet"
            if name == "dteg":
                pipeline = work / f"pipeline-{i}.yaml"
                pipeline.write_text(PIPELINE.format(url=url, out=out))
                return [PYTHON, "-m", "dteg.cli", "run", str(pipeline)], dict(os.environ)
            return [PYTHON, str(BENCH_DIR / "baselines" / "pymongo_parquet.py"), "--url", url,
                    "--collection", "orders", "--out", str(out)], dict(os.environ)

        seconds, ok = pairs.run_pairs(
            VARIANTS, args.repeat, args.docs, work, command,
            lambda name, i: benchlib.parquet_rows(work / f"{name}-{i}.parquet"))
    finally:
        subprocess.run([str(SCRIPT), "wipe"], env=env, check=False)
    pairs.report("MongoDB (FerretDB 1.24, SQLite, 127.0.0.1) → Parquet", seconds, args.docs,
                 "docs", "pymongo", "pymongo+pyarrow")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
