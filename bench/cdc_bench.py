"""PostgreSQL CDC → DuckDB merge: `dteg stream` (postgres_cdc) against a hand-written
psycopg2 logical replication loop (bench/baselines/cdc_replication_loop.py) writing the same
DuckDB table with the same guarantee (merge, then confirm the slot). Same server
(scripts/services/postgres), same table, a fresh slot per run, runs paired A B A B.

1. Throughput: the slot is created, then --changes changes are written (60 % inserts, 30 %
   updates, 10 % deletes, 1,000 per transaction) before the variant starts; it reads all of
   them. Reported: changes/s over its active time (first to last sink commit), median.
2. Latency at --rate changes/s (default 5,000) for --seconds: the variant is started and
   idle, a writer commits 50-row transactions on a fixed schedule; reported: p50/p99 of
   commit in PostgreSQL → the row's DuckDB commit (both variants measure it the same way:
   the sink commit time minus the transaction's commit timestamp), median over runs.

    .venv/bin/python bench/cdc_bench.py [--changes 200000] [--rate 5000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import benchlib
from benchlib import BENCH_DIR, DTEG, PYTHON, REPO

PIPELINE = BENCH_DIR / "pipelines" / "postgres_cdc_duckdb.yaml"
BASELINE = BENCH_DIR / "baselines" / "cdc_replication_loop.py"
TABLE = "cdc_bench_items"


def server() -> str:
    script = REPO / "scripts" / "services" / "postgres"
    started = subprocess.run([str(script), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        sys.exit(f"scripts/services/postgres start failed:\n{started.stderr}")
    for line in subprocess.run([str(script), "env"], capture_output=True,
                               text=True).stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        os.environ[key] = value
    return os.environ["DTEG_POSTGRES_URL"]


def sql(url: str, *statements: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        rows: list[tuple] = []
        for statement in statements:
            cur = con.execute(statement)
            rows = cur.fetchall() if cur.description else []
        return rows


def fresh(url: str) -> str:
    """A new table, publication and slot; returns the slot (= publication) name."""
    slot = f"cdc_bench_{uuid.uuid4().hex[:8]}"
    drop_all(url)
    sql(url, f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, v integer, note text)",
        f"CREATE PUBLICATION {slot} FOR TABLE {TABLE}",
        f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")
    return slot


def drop_all(url: str) -> None:
    for (slot,) in sql(url, "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE "
                       "'cdc_bench_%' AND NOT active"):
        sql(url, f"SELECT pg_drop_replication_slot('{slot}')")
    for (pub,) in sql(url, "SELECT pubname FROM pg_publication WHERE pubname LIKE "
                      "'cdc_bench_%'"):
        sql(url, f"DROP PUBLICATION {pub}")
    sql(url, f"DROP TABLE IF EXISTS {TABLE}")


def fill(url: str, changes: int) -> int:
    """Write ``changes`` changes in 1,000-row transactions; returns how many were written."""
    inserts = changes * 6 // 10
    updates = changes * 3 // 10
    deletes = changes - inserts - updates
    statements = []
    for lo in range(1, inserts + 1, 1000):
        hi = min(lo + 999, inserts)
        statements.append(f"INSERT INTO {TABLE} SELECT g, 0, 'row ' || g FROM "
                          f"generate_series({lo}, {hi}) g")
    for lo in range(1, updates + 1, 1000):
        hi = min(lo + 999, updates)
        statements.append(f"UPDATE {TABLE} SET v = v + 1 WHERE id BETWEEN {lo} AND {hi}")
    for lo in range(inserts - deletes + 1, inserts + 1, 1000):
        hi = min(lo + 999, inserts)
        statements.append(f"DELETE FROM {TABLE} WHERE id BETWEEN {lo} AND {hi}")
    sql(url, *statements)
    return inserts + updates + deletes


def start(variant: str, url: str, slot: str, db: Path, records: int, out: Path
          ) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CDC_BENCH_SLOT": slot, "CDC_BENCH_DB": str(db)}
    if variant == "dteg":
        args = [DTEG, "stream", str(PIPELINE), "--max-records", str(records), "--quiet",
                "--report-json", str(out)]
        return subprocess.Popen(args, cwd=db.parent, env=env, stdout=subprocess.DEVNULL,
                                stderr=open(db.parent / "dteg.log", "wb"))
    args = [PYTHON, str(BASELINE), url.split("?")[0], slot, slot, str(db),
            "--max-records", str(records)]
    return subprocess.Popen(args, cwd=db.parent, env=env, stdout=open(out, "wb"),
                            stderr=open(db.parent / "baseline.log", "wb"))


def finish(proc: subprocess.Popen[bytes], out: Path, folder: Path, timeout: float) -> dict:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        sys.exit(f"a variant did not finish in {timeout:.0f} s; logs in {folder}")
    if code != 0:
        logs = "\n".join(benchlib.log_tail(p) for p in folder.glob("*.log"))
        sys.exit(f"a variant failed (exit {code}):\n{logs}")
    text = out.read_text().strip()
    return json.loads(text.splitlines()[-1] if not text.startswith("{\n") else text)


def wait_active(url: str, slot: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not sql(url, f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}' AND "
                  "active"):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("the variant did not start streaming")
        time.sleep(0.2)
    time.sleep(2.0)  # dteg builds its Beam graph after connecting: let both settle idle


def sink_rows(db: Path) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM items").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def throughput(variant: str, url: str, changes: int) -> tuple[float, float]:
    slot = fresh(url)
    written = fill(url, changes)
    folder = Path(tempfile.mkdtemp(prefix=f"cdc-bench-{variant}-"))
    out = folder / "report.json"
    started = time.monotonic()
    proc = start(variant, url, slot, folder / "sink.duckdb", written, out)
    report = finish(proc, out, folder, timeout=1800)
    wall = time.monotonic() - started
    expected = sql(url, f"SELECT count(*) FROM {TABLE}")[0][0]
    assert sink_rows(folder / "sink.duckdb") == expected, f"{variant}: sink ≠ source"
    assert report["read"] == written, (variant, report["read"], written)
    return written / report["active_seconds"], written / wall


def latency(variant: str, url: str, rate: int, seconds: float) -> tuple[float, float, float]:
    import psycopg

    slot = fresh(url)
    per_txn = 50
    txns = int(rate * seconds / per_txn)
    folder = Path(tempfile.mkdtemp(prefix=f"cdc-bench-{variant}-"))
    out = folder / "report.json"
    proc = start(variant, url, slot, folder / "sink.duckdb", txns * per_txn, out)
    wait_active(url, slot, proc)
    interval = per_txn / rate
    behind = [0.0]

    def write() -> None:
        with psycopg.connect(url, autocommit=True) as con:
            begin = time.monotonic()
            for i in range(txns):
                due = begin + i * interval
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                else:
                    behind[0] = max(behind[0], now - due)
                lo = i * per_txn + 1
                con.execute(f"INSERT INTO {TABLE} SELECT g, 0, 'x' FROM generate_series({lo}, "
                            f"{lo + per_txn - 1}) g")

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()
    report = finish(proc, out, folder, timeout=600)
    if os.environ.get("CDC_BENCH_VERBOSE"):
        print({k: report.get(k) for k in ("read", "micro_batches", "active_seconds")})
    return report["latency_p50_seconds"], report["latency_p99_seconds"], behind[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--changes", type=int, default=200_000)
    ap.add_argument("--rate", type=int, default=5_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=2, help="A B pairs per measurement")
    args = ap.parse_args()
    url = server()
    print(benchlib.machine_note())
    rates: dict[str, list[float]] = {"dteg": [], "baseline": []}
    walls: dict[str, list[float]] = {"dteg": [], "baseline": []}
    for _ in range(args.repeat):
        for variant in ("dteg", "baseline"):
            active, wall = throughput(variant, url, args.changes)
            rates[variant].append(active)
            walls[variant].append(wall)
            print(f"  throughput {variant:8} {active:10,.0f} changes/s active, "
                  f"{wall:10,.0f} changes/s wall", flush=True)
    lat: dict[str, list[tuple[float, float, float]]] = {"dteg": [], "baseline": []}
    for _ in range(args.repeat):
        for variant in ("dteg", "baseline"):
            p50, p99, behind = latency(variant, url, args.rate, args.seconds)
            lat[variant].append((p50, p99, behind))
            print(f"  latency    {variant:8} p50 {p50:6.3f} s  p99 {p99:6.3f} s  (writer at "
                  f"most {behind:.2f} s behind schedule)", flush=True)
    drop_all(url)
    med = {v: statistics.median(r) for v, r in rates.items()}
    print(f"\nthroughput ({args.changes:,} changes, median of {args.repeat}): dteg "
          f"{med['dteg']:,.0f}/s, baseline {med['baseline']:,.0f}/s, ratio "
          f"{med['dteg'] / med['baseline']:.2f}")
    walled = {v: statistics.median(r) for v, r in walls.items()}
    print(f"wall (start-up included): dteg {walled['dteg']:,.0f}/s, baseline "
          f"{walled['baseline']:,.0f}/s, ratio {walled['dteg'] / walled['baseline']:.2f}")
    for variant, values in lat.items():
        p50 = statistics.median(v[0] for v in values)
        p99 = statistics.median(v[1] for v in values)
        print(f"latency at {args.rate:,} changes/s for {args.seconds:g} s, {variant}: "
              f"p50 {p50:.3f} s, p99 {p99:.3f} s")


if __name__ == "__main__":
    main()
