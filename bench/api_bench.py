"""The REST API under load of history: `GET /api/v1/runs` and friends on a real `dteg server`
whose store holds 100,000 runs, against the same queries straight on the SQLite file.

    PYTHONPATH=. .venv/bin/python bench/api_bench.py [--runs 100000] [--pipelines 20]
        [--days 89] [--pairs 3] [--requests 60] [--clients 4] [--deep-page 200] [--keep]

The store (cached in ``bench/data/api_runs_<runs>.sqlite``, refilled when missing or made on
another day, so its last 24 hours stay the last 24 hours): ``--runs`` runs over
``--pipelines`` pipelines (some run every few minutes, some a few times a day) and
``--days`` days, newest now; ~94 % succeeded, ~5 % failed (one flaky pipeline fails a
quarter of its runs), a few cancelled; the 4 newest are running (each on a worker whose
heartbeat this script keeps fresh, as a live worker's would be) and 6 more queued behind
them (``max_active_runs`` 1). Every finished run has its attempt, and a succeeded one its
step counts, quality result and summary: the JSON report of one real `dteg run
pipelines/quickstart.yaml --report-json` (≈ 4 KB; run once, cached in
``bench/data/api_bench_summary.json``), with its counts, ids and paths changed per run. Runs
go in through ``Store.create_runs`` (5,000 at a time), then one executemany ``UPDATE`` each
for their times and outcomes, and Core inserts into the other tables. No ``ANALYZE``: a
real store never runs one.

Then ``dteg server --pipelines <20 tiny CSV → CSV files, no schedule> --store … --port P
--keep-runs never`` (so nothing is purged while measuring), and once ``/api/v1/ready``
answers, ``--pairs`` rounds of A B:

* A, dteg: with httpx on loopback (keep-alive), each query ``--requests`` times one after
  the other, then the same number shared by ``--clients`` concurrent clients. Server time
  is the ``Server-Timing: app;dur=`` header (to the response's first byte); client time is
  the round trip with the body read and parsed.
* B, raw SQL: the same page queries with Python's ``sqlite3`` on the same file (keyset SQL
  as the store issues it, rows fetched as tuples), and ``LIMIT 50 OFFSET <page × 50>``, the
  pagination without a cursor.

Queries: the first page of ``/api/v1/runs?limit=50``; page ``--deep-page`` (its cursor taken
by following ``next_cursor`` from the first page, a walk that is timed too); ``?pipeline=X``,
``?status=failed``, ``?pipeline=X&status=failed``; ``/api/v1/runs/{id}`` of random runs;
``/api/v1/pipelines``; ``/api/v1/overview``. Printed: p50/p95/p99 per query (medians over
the pairs), server and client, and dteg server time / raw SQL time.

Target (issue): with 100,000 runs, ``GET /api/v1/runs`` p95 < 300 ms server time. Exits 1
when the first page or a filtered page misses it (sequential or concurrent), or when the
store's runs changed while measuring.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
OUT_DIR = BENCH_DIR / "out"
VENV_BIN = Path(os.environ.get("DTEG_BENCH_VENV", REPO / ".venv")).resolve() / "bin"
DTEG = str(VENV_BIN / "dteg") if (VENV_BIN / "dteg").exists() else str(
    Path(sys.executable).with_name("dteg"))
TARGET_MS = 300.0
PAGE = 50
WORKERS = 4  # running runs, one per (fake, beating) worker
QUEUED = 6
FILL_VERSION = 1  # bump when the fill changes: the cached store is made again

PIPELINE = """\
pipeline:
  name: {name}
  steps:
    - extract:
        type: csv
        config:
          path: data/{name}.csv
    - load:
        type: csv
        config:
          path: out/{name}.csv
"""


# --- the data --------------------------------------------------------------------------------


def ensure_summary() -> dict[str, Any]:
    """One real run's JSON report (`dteg run pipelines/quickstart.yaml --report-json`), made
    once in a scratch copy of pipelines/ and cached."""
    cached = DATA_DIR / "api_bench_summary.json"
    if cached.exists():
        return json.loads(cached.read_text())
    scratch = OUT_DIR / f"api-summary-{os.getpid()}"
    shutil.copytree(REPO / "pipelines", scratch / "pipelines",
                    ignore=shutil.ignore_patterns(".dteg", "out"))
    report = scratch / "report.json"
    print("running `dteg run pipelines/quickstart.yaml --report-json` once for a real "
          "summary ...", file=sys.stderr, flush=True)
    subprocess.run([DTEG, "run", "quickstart.yaml", "--report-json", str(report)],
                   cwd=scratch / "pipelines", check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, PYTHONPATH=str(REPO)))
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    cached.write_text(report.read_text())
    shutil.rmtree(scratch, ignore_errors=True)
    return json.loads(cached.read_text())


def pipeline_names(count: int) -> list[str]:
    return [f"api_bench_{i:02d}" for i in range(count)]


def write_pipelines(folder: Path, names: list[str]) -> dict[str, str]:
    """The served folder: one tiny CSV → CSV file per name; returns name → sha256."""
    from dteg.orchestrator.catalog import sha256_text

    (folder / "data").mkdir(parents=True, exist_ok=True)
    shas = {}
    for name in names:
        text = PIPELINE.format(name=name)
        (folder / f"{name}.yaml").write_text(text)
        (folder / "data" / f"{name}.csv").write_text("id,email\n1,a@example.com\n")
        shas[name] = sha256_text(text)
    return shas


def weights(count: int) -> list[float]:
    """Runs per pipeline: a few every few minutes, most hourly, some a few times a day."""
    shape = [8, 6, 5, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0.5, 0.5]
    return [shape[i % len(shape)] for i in range(count)]


def failure_rate(index: int) -> float:
    return {3: 0.25, 19: 0.005}.get(index, 0.03)


@dataclass
class Plan:
    """What the fill made (kept next to the cached store)."""

    runs: int
    pipelines: list[str]
    days: int
    now: str
    statuses: dict[str, int] = field(default_factory=dict)
    per_pipeline: dict[str, int] = field(default_factory=dict)
    failed_per_pipeline: dict[str, int] = field(default_factory=dict)
    fill_s: float = 0.0
    version: int = FILL_VERSION


def _summary_for(template: str, name: str, run_id: str, read: int, bad_extract: int,
                 bad_validate: int, seconds: float) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(template.replace("quickstart", name))
    loaded = read - bad_extract - bad_validate
    summary.update(run_id=run_id, seconds=round(seconds, 3), read=read, loaded=loaded,
                   dead_lettered=bad_extract + bad_validate, filtered=0)
    for part in summary.get("reconciliation", []):
        part.update(read=read, loaded=loaded, dead_lettered=bad_extract + bad_validate)
    counts = {"extract": (read, read - bad_extract, bad_extract, 0),
              "validate": (read - bad_extract, loaded, bad_validate, 0),
              "mask": (loaded, loaded, 0, 0), "load": (loaded, 0, 0, loaded)}
    for step in summary.get("steps", []):
        if step["name"] in counts:
            rows_in, rows_out, dead, done = counts[step["name"]]
            step.update(rows_in=rows_in, rows_out=rows_out, dead_letter=dead, loaded=done)
    if summary.get("dead_letter_target"):
        summary["dead_letter_target"] = f"/srv/dteg/.dteg/dead_letter/{name}/{run_id}.jsonl"
    summary["targets"] = {"load": f"/srv/dteg/.dteg/warehouse.duckdb:{name}"}
    return summary


def fill(url: str, rows: int, names: list[str], shas: dict[str, str], days: int,
         summary: dict[str, Any], now: datetime) -> Plan:
    from sqlalchemy import bindparam, insert, update

    from dteg.orchestrator.store.schema import attempts, quality_results, runs, step_counts
    from dteg.orchestrator.store.store import Store

    started = time.perf_counter()
    rng = random.Random(20261202)
    store = Store.open(url)
    for name in names:
        store.save_pipeline(name, f"{name}.yaml", shas[name], PIPELINE.format(name=name),
                            None, now - timedelta(days=days + 1))
    w = weights(len(names))
    counts = [int(rows * x / sum(w)) for x in w]
    counts[0] += rows - sum(counts)
    span = days * 86400.0
    newest = now - timedelta(minutes=2)
    template = json.dumps(summary)
    quality = summary.get("quality")
    planned: list[dict[str, Any]] = []
    for index, (name, count) in enumerate(zip(names, counts, strict=True)):
        step = span / count
        for k in range(count):
            # Ticks evenly spaced, newest at `newest`, a second or two of jitter.
            created = newest - timedelta(seconds=step * (count - 1 - k) - rng.random() * 2)
            planned.append(dict(index=index, name=name, created=created))
    planned.sort(key=lambda p: p["created"])
    # The newest WORKERS runs are running, QUEUED more wait behind them (same pipelines).
    active = planned[-(WORKERS + QUEUED):]
    for i, p in enumerate(active):
        p["index"], p["name"] = i % WORKERS, names[i % WORKERS]
        p["created"] = newest + timedelta(seconds=5 * (i + 1),
                                          microseconds=rng.randrange(10**6))
    for p in planned:
        p["id"] = f"{p['created']:%Y%m%dT%H%M%S}-{rng.getrandbits(32):08x}"
    plan = Plan(runs=rows, pipelines=names, days=days, now=now.isoformat())

    run_updates, attempt_rows, step_rows, quality_rows = [], [], [], []
    for n, p in enumerate(planned):
        created: datetime = p["created"]
        kind = "manual" if rng.random() < 0.03 else "schedule"
        if n >= len(planned) - QUEUED:
            status = "queued"
        elif n >= len(planned) - QUEUED - WORKERS:
            status = "running"
        else:
            draw = rng.random()
            rate = failure_rate(p["index"])
            status = ("failed" if draw < rate else
                      "cancelled" if draw < rate + 0.004 else "succeeded")
        p["status"], p["kind"] = status, kind
        values: dict[str, Any] = dict(
            rid=p["id"], created_at=created, not_before=created,
            scheduled_at=created.replace(microsecond=0) if kind == "schedule" else None,
            status=status, attempt=0, dispatched_at=None, started_at=None,
            first_read_at=None, finished_at=None, worker=None, error=None, retriable=None,
            rows_read=None, rows_loaded=None, rows_dead_lettered=None, summary=None,
            handled_attempt=0)
        if status != "queued":
            dispatched = created + timedelta(seconds=0.05 + rng.random() * 0.3)
            begun = dispatched + timedelta(seconds=0.05 + rng.random() * 0.5)
            seconds = min(rng.lognormvariate(2.0, 1.0), 1800.0)
            worker = f"worker:bench-{p['index'] % WORKERS}:{1000 + p['index'] % WORKERS}:0"
            values.update(attempt=1, dispatched_at=dispatched, started_at=begun,
                          first_read_at=begun + timedelta(seconds=0.8), worker=worker)
            if status == "running":
                values.update(worker=f"worker:bench-{n % WORKERS}:{1000 + n % WORKERS}:0")
                attempt_rows.append(dict(run_id=p["id"], number=1, worker=values["worker"],
                                         started_at=begun, finished_at=None,
                                         status="running", error=None, retriable=None,
                                         seconds=None))
        if status in ("succeeded", "failed", "cancelled"):
            finished = values["started_at"] + timedelta(seconds=seconds)
            read = int(rng.lognormvariate(9, 1.5)) + 1
            bad_extract = int(read * rng.random() * 0.01)
            bad_validate = int((read - bad_extract) * rng.random() * 0.03)
            values.update(finished_at=finished, handled_attempt=1)
            error = None
            if status == "succeeded":
                run_summary = _summary_for(template, p["name"], p["id"], read, bad_extract,
                                           bad_validate, seconds)
                values.update(rows_read=read, rows_loaded=read - bad_extract - bad_validate,
                              rows_dead_lettered=bad_extract + bad_validate,
                              summary=run_summary, retriable=False)
                step_rows.extend(dict(run_id=p["id"], attempt=1, step=s["name"],
                                      kind=s["kind"], rows_in=s["rows_in"],
                                      rows_out=s["rows_out"], dead_letter=s["dead_letter"],
                                      loaded=s["loaded"]) for s in run_summary["steps"])
                if quality is not None:
                    quality_rows.append(dict(run_id=p["id"], attempt=1, passed=True,
                                             result=run_summary["quality"]))
            elif status == "failed":
                error = rng.choice([
                    f"step `load` ({p['name']}.yaml line 9): ConnectorError: cannot write "
                    f"out/{p['name']}.csv: [Errno 28] No space left on device",
                    f"step `extract` ({p['name']}.yaml line 4): ConnectorError: "
                    f"data/{p['name']}.csv: no such file",
                    "worker lost: no heartbeat for 30 s (the attempt was given up)",
                ])
                values.update(error=error, retriable=rng.random() < 0.5, rows_read=read)
            else:
                error = "cancelled"
                values.update(error=error)
            attempt_rows.append(dict(run_id=p["id"], number=1, worker=values["worker"],
                                     started_at=values["started_at"], finished_at=finished,
                                     status="succeeded" if status == "succeeded" else
                                     "failed", error=error, retriable=values["retriable"],
                                     seconds=seconds))
        run_updates.append(values)
        plan.statuses[status] = plan.statuses.get(status, 0) + 1
        plan.per_pipeline[p["name"]] = plan.per_pipeline.get(p["name"], 0) + 1
        if status == "failed":
            plan.failed_per_pipeline[p["name"]] = plan.failed_per_pipeline.get(
                p["name"], 0) + 1

    chunk = 5000
    for start in range(0, len(planned), chunk):
        batch = planned[start:start + chunk]
        created = store.create_runs([dict(
            run_id=p["id"], pipeline=p["name"], sha256=shas[p["name"]], kind=p["kind"],
            dedupe_key=(f"tick:{p['created'].replace(microsecond=0).isoformat()}"
                        if p["kind"] == "schedule" else p["id"]),
            scheduled_at=p["created"].replace(microsecond=0)
            if p["kind"] == "schedule" else None) for p in batch], now)
        assert len(created) == len(batch), "a run id or tick collided"
    finish = update(runs).where(runs.c.id == bindparam("rid")).values(
        {key: bindparam(key) for key in run_updates[0] if key != "rid"})
    with store.engine.begin() as tx:
        for start in range(0, len(run_updates), chunk):
            tx.execute(finish, run_updates[start:start + chunk])
        for table, values in ((attempts, attempt_rows), (step_counts, step_rows),
                              (quality_results, quality_rows)):
            for start in range(0, len(values), chunk):
                tx.execute(insert(table), values[start:start + chunk])
    store.close()
    raw = sqlite3.connect(url.removeprefix("sqlite:///"))
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    plan.fill_s = time.perf_counter() - started
    return plan


def ensure_store(rows: int, names: list[str], shas: dict[str, str], days: int
                 ) -> tuple[Path, Plan]:
    """The cached store for ``rows`` runs, filled again when missing, stale (another day)
    or made by another version of the fill."""
    path = DATA_DIR / f"api_runs_{rows}.sqlite"
    meta = path.with_name(path.name + ".meta.json")
    today = datetime.now(timezone.utc)
    if path.exists() and meta.exists():
        plan = Plan(**json.loads(meta.read_text()))
        if (plan.version == FILL_VERSION and plan.pipelines == names and plan.days == days
                and datetime.fromisoformat(plan.now).date() == today.date()):
            return path, plan
    for old in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
                meta):
        old.unlink(missing_ok=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    print(f"filling {path} with {rows:,} runs ...", file=sys.stderr, flush=True)
    plan = fill(f"sqlite:///{path}", rows, names, shas, days, ensure_summary(), today)
    meta.write_text(json.dumps(plan.__dict__, indent=1))
    print(f"  filled in {plan.fill_s:.1f} s ({path.stat().st_size / 1e6:,.0f} MB): "
          f"{plan.statuses}", file=sys.stderr, flush=True)
    return path, plan


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`dteg server` on the cached store, on a free loopback port."""

    # Access control has its own benchmark (bench/auth_bench.py): these measure the rest.
    extra: tuple[str, ...] = ("--no-auth",)

    def __init__(self, folder: Path, store: Path, log: Path,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process = subprocess.Popen(
            [DTEG, "server", "--pipelines", str(folder), "--store", f"sqlite:///{store}",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--keep-runs", "never", *self.extra],
            env=dict(os.environ, PYTHONPATH=str(REPO), **(env or {})), stdout=log.open("w"),
            stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120) -> float:
        import httpx

        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise SystemExit(f"dteg server exited {self.process.returncode}:\n"
                                 + self.log.read_text()[-3000:])
            try:
                if httpx.get(self.base + "/api/v1/ready", timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"dteg server not ready after {timeout:.0f} s:\n"
                         + self.log.read_text()[-3000:])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Workers:
    """Heartbeats for the workers the running runs are on (as live workers beat), so the
    server's watcher never gives those runs up for lost while it is measured."""

    def __init__(self, store_url: str) -> None:
        from dteg.orchestrator.store.store import Store

        self.store = Store.open(store_url)
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as raw:
            self.running = [(r[0], r[1]) for r in raw.execute(
                "SELECT id, worker FROM dteg_runs WHERE status = 'running'")]
        self.started = datetime.now(timezone.utc)
        self.stopping = threading.Event()
        self.beat()
        self.thread = threading.Thread(target=self._loop, name="bench-heartbeats",
                                       daemon=True)
        self.thread.start()

    def beat(self) -> None:
        now = datetime.now(timezone.utc)
        for run_id, worker in self.running:
            self.store.heartbeat(worker, "worker", self.started, now, current_run=run_id)

    def _loop(self) -> None:
        while not self.stopping.wait(5.0):
            self.beat()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.store.close()


# --- measuring -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def server_ms(response: Any) -> float:
    for part in response.headers.get("server-timing", "").split(","):
        name, _, rest = part.strip().partition(";")
        if name == "app" and rest.startswith("dur="):
            return float(rest[4:])
    raise SystemExit(f"no Server-Timing header on {response.request.url}")


@dataclass
class Query:
    """One API query, and its raw SQL equivalent (None: no baseline)."""

    name: str
    paths: Callable[[random.Random], str]
    sql: Callable[[random.Random], list[tuple[str, tuple[Any, ...]]]] | None = None
    gated: bool = False  # the target applies


def http_samples(base: str, query: Query, count: int, clients: int, seed: int
                 ) -> tuple[list[float], list[float]]:
    """(server ms, client ms) of ``count`` requests shared by ``clients`` threads."""
    import httpx

    server: list[float] = []
    client: list[float] = []
    lock = threading.Lock()
    share = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    def work(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        with httpx.Client(base_url=base, timeout=60) as http:
            http.get("/api/v1/health")  # the connection is open before timing
            for _ in range(share[i]):
                path = query.paths(rng)
                t0 = time.perf_counter()
                response = http.get(path)
                response.json()
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
                with lock:
                    server.append(server_ms(response))
                    client.append(elapsed)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return server, client


def sql_samples(db: sqlite3.Connection, query: Query, count: int, seed: int) -> list[float]:
    assert query.sql is not None
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        statements = query.sql(rng)
        t0 = time.perf_counter()
        db.execute("BEGIN")
        for statement, params in statements:
            db.execute(statement, params).fetchall()
        db.execute("COMMIT")
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def store_sql(url: str, where: Any, before: tuple[datetime, str] | None
              ) -> list[tuple[str, tuple[Any, ...]]]:
    """The SELECT(s) ``Store.runs_page`` issues for this page, as sent to sqlite3."""
    from sqlalchemy import event

    from dteg.orchestrator.store.store import Store

    store = Store.open(url)
    seen: list[tuple[str, tuple[Any, ...]]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def grab(_c: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any,
             _many: bool) -> None:
        seen.append((statement, tuple(parameters or ())))

    store.runs_page(where, PAGE + 1, before)
    store.close()
    return [s for s in seen if s[0].lstrip().upper().startswith("SELECT")]


def walk(base: str, pages: int) -> tuple[str, list[float], str]:
    """Follow next_cursor from the first page: (the cursor of page ``pages``, the server ms
    of each page on the way, the first run id of page ``pages``)."""
    import httpx

    cursor, times, first_id = "", [], ""
    with httpx.Client(base_url=base, timeout=60) as http:
        for page in range(1, pages + 1):
            response = http.get("/api/v1/runs", params=dict(limit=PAGE, **(
                {"cursor": cursor} if cursor else {})))
            body = response.json()
            times.append(server_ms(response))
            if page == pages:
                first_id = body["items"][0]["id"]
                break
            cursor = body["next_cursor"]
            if not cursor:
                raise SystemExit(f"no next_cursor after page {page}")
    return cursor, times, first_id


def statuses(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT status, count(*) FROM dteg_runs GROUP BY status"))


def build_queries(path: Path, plan: Plan, deep_cursor: str, deep_page: int
                  ) -> tuple[list[Query], list[Query]]:
    """The API queries (with their raw SQL where one is comparable) and the OFFSET-only
    baselines."""
    from dteg.orchestrator.store.reads import RunFilter
    from dteg.server import pagination

    url = f"sqlite:///{path}"
    names = plan.pipelines
    big = names[1]  # ~12 % of the runs, a usual failure rate
    with sqlite3.connect(path) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM dteg_runs ORDER BY id")]
        last_at, last_id = db.execute(
            "SELECT created_at, id FROM dteg_runs ORDER BY created_at DESC, id DESC "
            "LIMIT 1 OFFSET ?", ((plan.runs // PAGE - 1) * PAGE - 1,)).fetchone()
    last_cursor = pagination.encode(datetime.fromisoformat(last_at).replace(
        tzinfo=timezone.utc), last_id)
    last_page = plan.runs // PAGE
    sample = random.Random(7).sample(ids, 500)

    def page(where: RunFilter, before: tuple[datetime, str] | None = None
             ) -> Callable[[random.Random], list[tuple[str, tuple[Any, ...]]]]:
        sql = store_sql(url, where, before)
        return lambda rng: sql

    def detail_sql(rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
        run_id = rng.choice(sample)
        return [("SELECT * FROM dteg_runs WHERE id = ?", (run_id,)),
                ("SELECT * FROM dteg_attempts WHERE run_id = ? ORDER BY number", (run_id,))]

    newest = "SELECT * FROM dteg_runs WHERE pipeline = ? ORDER BY created_at DESC, id DESC " \
        "LIMIT 20"
    pipelines_sql = [("SELECT * FROM dteg_pipelines", ())] + [(newest, (n,)) for n in names]
    since = (datetime.now(timezone.utc) - timedelta(hours=24)).replace(tzinfo=None)
    overview_sql = [("SELECT created_at, status FROM dteg_runs WHERE created_at >= ?",
                     (since.isoformat(sep=" "),)), *pipelines_sql,
                    ("SELECT * FROM dteg_runs WHERE status IN ('queued', 'dispatched', "
                     "'running') ORDER BY created_at DESC, id DESC LIMIT 100", ())]
    deep = pagination.decode(deep_cursor)
    last = pagination.decode(last_cursor)
    runs = "/api/v1/runs?limit=50"
    queries = [
        Query("runs, first page", lambda r: runs, page(RunFilter()), gated=True),
        Query(f"runs, page {deep_page} (cursor)", lambda r: f"{runs}&cursor={deep_cursor}",
              page(RunFilter(), deep), gated=True),
        Query(f"runs, page {last_page} (the last)", lambda r: f"{runs}&cursor={last_cursor}",
              page(RunFilter(), last), gated=True),
        Query(f"runs ?pipeline={big}", lambda r: f"{runs}&pipeline={big}",
              page(RunFilter(pipeline=big)), gated=True),
        Query("runs ?status=failed", lambda r: f"{runs}&status=failed",
              page(RunFilter(statuses=("failed",))), gated=True),
        Query("runs ?status=succeeded", lambda r: f"{runs}&status=succeeded",
              page(RunFilter(statuses=("succeeded",))), gated=True),
        Query(f"runs ?pipeline={big}&status=failed",
              lambda r: f"{runs}&pipeline={big}&status=failed",
              page(RunFilter(pipeline=big, statuses=("failed",))), gated=True),
        Query("runs/{id} (random runs)", lambda r: f"/api/v1/runs/{r.choice(sample)}",
              detail_sql),
        Query("pipelines", lambda r: "/api/v1/pipelines", lambda r: pipelines_sql),
        Query("overview (24 h)", lambda r: "/api/v1/overview", lambda r: overview_sql),
    ]
    order = "ORDER BY created_at DESC, id DESC"
    offsets = [
        Query(f"OFFSET {(deep_page - 1) * PAGE} (page {deep_page} without a cursor)",
              lambda r: "", lambda r: [(f"SELECT * FROM dteg_runs {order} LIMIT 50 OFFSET "
                                        f"{(deep_page - 1) * PAGE}", ())]),
        Query(f"OFFSET {(last_page - 1) * PAGE} (page {last_page})", lambda r: "",
              lambda r: [(f"SELECT * FROM dteg_runs {order} LIMIT 50 OFFSET "
                          f"{(last_page - 1) * PAGE}", ())]),
        Query("OFFSET 10000 ?status=failed", lambda r: "",
              lambda r: [(f"SELECT * FROM dteg_runs WHERE status = 'failed' {order} "
                          "LIMIT 50 OFFSET 10000", ())]),
    ]
    return queries, offsets


def stats(values: list[float]) -> tuple[float, float, float]:
    return percentile(values, 50), percentile(values, 95), percentile(values, 99)


def med(rounds: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return tuple(statistics.median(r[i] for r in rounds) for i in range(3))  # type: ignore


def fmt(triple: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.1f}" if v >= 10 else f"{v:.2f}" for v in triple)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--days", type=int, default=89)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=60, help="per query, mode and round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--deep-page", type=int, default=200)
    parser.add_argument("--only", help="comma-separated query name prefixes")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    folder = OUT_DIR / f"api-{os.getpid()}"
    names = pipeline_names(args.pipelines)
    shas = write_pipelines(folder / "pipelines", names)
    path, plan = ensure_store(args.runs, names, shas, args.days)
    before = statuses(path)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    print(f"{datetime.now():%Y-%m-%d %H:%M}, at {head}: {plan.runs:,} runs over "
          f"{len(names)} pipelines and {plan.days} days ({path.stat().st_size / 1e6:,.0f} MB, "
          f"{before}); {args.pairs} pairs × {args.requests} requests per query; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)

    workers = Workers(f"sqlite:///{path}")
    server = Server(folder / "pipelines", path, folder / "server.log")
    failed = False
    try:
        print(f"dteg server ready in {server.wait_ready():.1f} s on {server.base}", flush=True)
        time.sleep(3)  # its worker processes finish starting
        deep_cursor, walk_ms, deep_first = walk(server.base, args.deep_page)
        with sqlite3.connect(path) as db:
            expected = db.execute("SELECT id FROM dteg_runs ORDER BY created_at DESC, id DESC "
                                  "LIMIT 1 OFFSET ?", ((args.deep_page - 1) * PAGE,)
                                  ).fetchone()[0]
        if deep_first != expected:
            print(f"FAIL: page {args.deep_page} by cursor starts at {deep_first}, by OFFSET at "
                  f"{expected}")
            failed = True
        print(f"walk of pages 1–{args.deep_page} by next_cursor: server ms p50/p95/p99/max "
              f"{fmt(stats(walk_ms))} / {max(walk_ms):.1f}, first {walk_ms[0]:.1f}, "
              f"total {sum(walk_ms) / 1000:.2f} s", flush=True)
        queries, offsets = build_queries(path, plan, deep_cursor, args.deep_page)
        if args.only:
            wanted = tuple(args.only.split(","))
            queries = [q for q in queries if q.name.startswith(wanted)]
        db = sqlite3.connect(path, isolation_level=None)
        for query in queries:  # warm-up: caches, connections, compiled statements
            http_samples(server.base, query, 3, 1, 0)
            if query.sql:
                sql_samples(db, query, 3, 0)
        rounds: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for pair in range(args.pairs):
            for query in queries:
                seq = http_samples(server.base, query, args.requests, 1, pair + 1)
                con = http_samples(server.base, query, args.requests, args.clients, pair + 1)
                for mode, values in (("server", seq[0]), ("client", seq[1]),
                                     ("server_c", con[0]), ("client_c", con[1])):
                    rounds.setdefault((query.name, mode), []).append(stats(values))
            for query in queries + offsets:
                if query.sql:
                    values = sql_samples(db, query, args.requests, pair + 1)
                    rounds.setdefault((query.name, "sql"), []).append(stats(values))
            print(f"  pair {pair + 1}/{args.pairs} done, load {os.getloadavg()[0]:.2f}",
                  flush=True)
        db.close()
    finally:
        server.stop()
        workers.stop()

    print(f"\nms, p50 / p95 / p99 (medians over {args.pairs} pairs); server = Server-Timing "
          f"app;dur; {args.clients} clients = the same requests from {args.clients} "
          "concurrent clients\n")
    print("| query | server | client | server, 4 clients | client, 4 clients | raw SQL | "
          "server / SQL (p50) | server / SQL (p95) |")
    print("|---|---|---|---|---|---|---|---|")
    for query in queries:
        row = {mode: med(rounds[(query.name, mode)]) for mode in
               ("server", "client", "server_c", "client_c")}
        sql = med(rounds[(query.name, "sql")]) if query.sql else None
        ratio = (f"{row['server'][0] / sql[0]:.1f}×", f"{row['server'][1] / sql[1]:.1f}×"
                 ) if sql else ("–", "–")
        print(f"| {query.name} | {fmt(row['server'])} | {fmt(row['client'])} | "
              f"{fmt(row['server_c'])} | {fmt(row['client_c'])} | "
              f"{fmt(sql) if sql else '–'} | {ratio[0]} | {ratio[1]} |")
        if query.gated:
            for mode in ("server", "server_c"):
                if row[mode][1] >= TARGET_MS:
                    print(f"  MISSES: {query.name} p95 {row[mode][1]:.1f} ms ({mode})")
                    failed = True
    for query in offsets:
        print(f"| raw SQL: {query.name} | | | | | {fmt(med(rounds[(query.name, 'sql')]))} "
              "| | |")
    after = statuses(path)
    if after != before:
        print(f"FAIL: the store's runs changed while measuring: {before} → {after}")
        failed = True
    gated = [q.name for q in queries if q.gated]
    print(f"\ntarget: p95 < {TARGET_MS:.0f} ms server time on {', '.join(gated)}: "
          f"{'MISSES' if failed else 'meets'}; load {os.getloadavg()[0]:.2f}")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"kept {folder}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
