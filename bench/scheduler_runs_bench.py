"""Real scheduled runs: 20 small CSV → DuckDB pipelines (each its own input and output),
every minute, through ``dteg server`` (embedded executor) or ``dteg scheduler`` + ``dteg
worker`` processes on Celery + Redis.

    .venv/bin/python bench/scheduler_runs_bench.py [--pipelines 20] [--rows 10] [--minutes 3]
        [--variants embedded:2,embedded:4,celery:2] [--broker redis://…] [--baseline-runs 3]
        [--keep]

Each variant is one fresh SQLite store and a server (or scheduler + workers) started as
subprocesses; its window is ``--minutes`` whole minutes from the first minute boundary at least
15 s after the server said it serves (its workers have imported Beam by then). After the
window's last runs finished (or 180 s), the server gets SIGTERM and the store is read:

* lag from the scheduled minute to the run's first record read (``first_read_at``), to its
  start (``started_at``: claimed by a worker) and to its end (``finished_at``), p50/p99/max;
* run wall time (``finished_at − started_at``) against the baseline, ``dteg run`` of the same
  file as a subprocess (spawn to exit: interpreter, imports, compile, run record), timed
  ``--baseline-runs`` times right before each variant (B A B A …): their ratio is the per-run
  fixed cost of a scheduled run relative to a command-line run;
* missed (a window tick with no succeeded run) and duplicate runs.

Celery: ``--broker URL`` (or ``DTEG_BROKER_URL``); without one, if ``redis-server`` is on the
PATH, the bench starts its own on port 56390 (``--daemonize yes``, state in the scratch
folder) and shuts it down at the end. The Celery variant starts ``dteg scheduler`` and N
``dteg worker --broker … --store …`` processes.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
REDIS_PORT = 56390
WARM_S = 15.0
GRACE_S = 180.0

PIPELINE = """\
pipeline:
  name: {name}
  schedule: "{schedule}"
  steps:
    - extract:
        type: csv
        config:
          path: data/{name}.csv
    - load:
        type: duckdb
        config:
          database: out/{name}.duckdb
          table: rows
"""


def generate(folder: Path, count: int, rows: int, schedule: str = "* * * * *") -> list[str]:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "out").mkdir(exist_ok=True)
    names = []
    for i in range(count):
        name = f"runs_{i:02d}"
        names.append(name)
        (folder / f"{name}.yaml").write_text(PIPELINE.format(name=name, schedule=schedule))
        lines = ["id,name,amount"] + [f"{j},name {j},{j * 1.5:.2f}" for j in range(rows)]
        (folder / "data" / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return names


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def next_boundary(epoch: float) -> float:
    return (math.floor(epoch / 60) + 1) * 60.0


def dteg(*args: str) -> list[str]:
    return [sys.executable, "-m", "dteg.cli", *args]


ENV = dict(os.environ, PYTHONPATH=str(REPO))


def baseline_runs(folder: Path, count: int) -> list[float]:
    """``dteg run`` of one pipeline file (never scheduled) as a subprocess, spawn to exit."""
    times = []
    for i in range(count):
        start = time.perf_counter()
        done = subprocess.run(dteg("run", "-q", str(folder / "runs_00.yaml"), "--run-id",
                                   f"baseline-{os.getpid()}-{i}-{time.time_ns()}"),
                              env=ENV, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"dteg run failed:\n{done.stdout}\n{done.stderr}")
    return times


class Redis:
    """The bench's own redis-server, when no broker was given."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.url = f"redis://127.0.0.1:{REDIS_PORT}/0"
        subprocess.run(["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1",
                        "--daemonize", "yes", "--dir", str(folder), "--save", "",
                        "--appendonly", "no", "--pidfile", str(folder / "redis.pid"),
                        "--logfile", str(folder / "redis.log")], check=True)
        for _ in range(100):
            pong = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"],
                                  capture_output=True, text=True).stdout.strip()
            if pong == "PONG":
                return
            time.sleep(0.1)
        raise SystemExit(f"redis-server did not answer; see {folder / 'redis.log'}")

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"],
                       capture_output=True)


def start_variant(kind: str, workers: int, folder: Path, store: str, broker: str | None,
                  logs: Path) -> tuple[list[subprocess.Popen[bytes]], Path]:
    port = str(20000 + os.getpid() % 20000)
    main_log = logs / f"{kind}-{workers}-server.log"
    if kind == "embedded":
        server = subprocess.Popen(dteg("server", "--pipelines", str(folder), "--store", store,
                                       "--workers", str(workers), "--port", port),
                                  env=ENV, stdout=main_log.open("w"), stderr=subprocess.STDOUT)
        return [server], main_log
    assert broker
    scheduler = subprocess.Popen(dteg("scheduler", "--pipelines", str(folder), "--store",
                                      store, "--broker", broker, "--port", port),
                                 env=ENV, stdout=main_log.open("w"), stderr=subprocess.STDOUT)
    processes = [scheduler]
    for n in range(workers):
        log = logs / f"{kind}-{workers}-worker-{n}.log"
        processes.append(subprocess.Popen(
            dteg("worker", "--broker", broker, "--store", store, "--pipelines", str(folder),
                 "--name", f"bench-{n}"),
            env=ENV, stdout=log.open("w"), stderr=subprocess.STDOUT))
    return processes, main_log


def wait_serving(process: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited {process.returncode}:\n{log.read_text()}")
        if " pipeline(s) from " in log.read_text():
            return time.time()
        time.sleep(0.2)
    raise SystemExit(f"the server did not start in {timeout:.0f} s:\n{log.read_text()}")


def read_runs(store: str) -> list[Any]:
    from sqlalchemy import create_engine, select

    from dteg.orchestrator.store.schema import runs

    engine = create_engine(store)
    with engine.connect() as connection:
        rows = connection.execute(select(runs)).all()
    engine.dispose()
    return rows


def measure(kind: str, workers: int, folder: Path, names: list[str], minutes: int,
            broker: str | None, scratch: Path) -> dict[str, Any]:
    store_file = scratch / f"{kind}-{workers}.sqlite"
    store = f"sqlite:///{store_file}"
    processes, log = start_variant(kind, workers, folder, store, broker, scratch)
    cpu_before = os.times()
    try:
        serving = wait_serving(processes[0], log)
        first = next_boundary(serving + WARM_S)
        ticks = [first + 60 * i for i in range(minutes)]
        print(f"  {kind} ×{workers}: window {datetime.fromtimestamp(first, timezone.utc):%H:%M}"
              f"–{datetime.fromtimestamp(ticks[-1], timezone.utc):%H:%M} UTC", flush=True)
        deadline = ticks[-1] + GRACE_S
        while time.time() < deadline:
            time.sleep(2)
            if time.time() < ticks[-1] + 2:
                continue
            rows = [r for r in read_runs(store) if r.scheduled_at is not None
                    and r.scheduled_at.timestamp() == ticks[-1]]
            if len(rows) == len(names) and all(r.finished_at for r in rows):
                break
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    cpu_after = os.times()
    window = set(ticks)
    rows = [r for r in read_runs(store)
            if r.scheduled_at is not None and r.scheduled_at.timestamp() in window]
    by_tick: dict[tuple[str, float], list[Any]] = {}
    for r in rows:
        by_tick.setdefault((r.pipeline, r.scheduled_at.timestamp()), []).append(r)
    ok = [r for r in rows if r.status == "succeeded"]

    def lags(column: str) -> list[float]:
        return [(getattr(r, column) - r.scheduled_at).total_seconds() for r in ok
                if getattr(r, column) is not None]

    return dict(
        variant=f"{kind} ×{workers}", expected=len(names) * len(ticks), runs=len(rows),
        succeeded=len(ok), failed=sum(r.status == "failed" for r in rows),
        missed=sum(1 for n in names for t in ticks
                   if not any(r.status == "succeeded" for r in by_tick.get((n, t), ()))),
        duplicates=sum(1 for v in by_tick.values() if len(v) > 1),
        to_start=lags("started_at"), to_first_read=lags("first_read_at"),
        to_finish=lags("finished_at"),
        run_s=[(r.finished_at - r.started_at).total_seconds() for r in ok],
        rows_read=sorted({r.rows_read for r in ok}),
        children_cpu_s=(cpu_after.children_user + cpu_after.children_system)
        - (cpu_before.children_user + cpu_before.children_system),
        errors=sorted({(r.error or "")[:200] for r in rows if r.status == "failed"}),
    )


def fmt(values: list[float]) -> str:
    if not values:
        return "– / – / –"
    return (f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} / "
            f"{max(values):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--variants", default="embedded:2,embedded:4,celery:2")
    parser.add_argument("--broker", default=os.environ.get("DTEG_BROKER_URL"))
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    scratch = OUT_DIR / f"scheduler_runs-{os.getpid()}"
    folder = scratch / "pipelines"
    names = generate(folder, args.pipelines, args.rows)
    # The baseline's own copy (never served), so its output is not shared with the server's.
    alone = scratch / "alone"
    generate(alone, 1, args.rows, schedule="0 0 1 1 *")
    print(f"{datetime.now():%Y-%m-%d %H:%M}, {args.pipelines} pipelines × {args.rows} rows, "
          f"every minute, {args.minutes} min per variant, {os.cpu_count()} cores, load "
          f"average {os.getloadavg()[0]:.2f}", flush=True)
    redis: Redis | None = None
    results: list[tuple[dict[str, Any], list[float]]] = []
    try:
        for variant in args.variants.split(","):
            kind, _, count = variant.partition(":")
            workers = int(count or 2)
            broker = None
            if kind == "celery":
                broker = args.broker
                if not broker and shutil.which("redis-server"):
                    redis = redis or Redis(scratch / "redis")
                    broker = redis.url
                if not broker:
                    print("  celery: skipped (no --broker / DTEG_BROKER_URL and no "
                          "redis-server on the PATH)")
                    continue
            base = baseline_runs(alone, args.baseline_runs)
            print(f"  baseline `dteg run`: {', '.join(f'{t:.2f}' for t in base)} s",
                  flush=True)
            results.append((measure(kind, workers, folder, names, args.minutes, broker,
                                    scratch), base))
    finally:
        if redis is not None:
            redis.stop()
    print(f"\nload average now {os.getloadavg()[0]:.2f}")
    head = ("variant", "runs", "ok", "missed", "dup", "→ start p50/p99/max s",
            "→ first read p50/p99/max s", "→ finish p50/p99/max s", "run s (median)",
            "`dteg run` s (median)", "ratio")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    ok = True
    for r, base in results:
        run_median, base_median = statistics.median(r["run_s"] or [math.nan]), \
            statistics.median(base)
        print(f"| {r['variant']} | {r['runs']}/{r['expected']} | {r['succeeded']} | "
              f"{r['missed']} | {r['duplicates']} | {fmt(r['to_start'])} | "
              f"{fmt(r['to_first_read'])} | {fmt(r['to_finish'])} | {run_median:.2f} | "
              f"{base_median:.2f} | {run_median / base_median:.2f} |")
        ok = ok and r["missed"] == 0 and r["duplicates"] == 0
    for r, _ in results:
        print(f"* {r['variant']}: rows read per run {r['rows_read']}; CPU of the server and "
              f"its workers {r['children_cpu_s']:.0f} s" + (
                  f"; failures: {r['errors']}" if r["errors"] else ""))
    if args.keep:
        print(f"kept {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
