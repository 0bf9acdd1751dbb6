"""The scheduler alone: N pipelines with every-minute schedules, the real ``Orchestrator`` loop
on a real store, and an executor that only records what it is handed.

    .venv/bin/python bench/scheduler_bench.py [--pipelines 1000] [--minutes 10] [--pairs 2]
        [--baseline-minutes 4] [--two-minutes 3] [--no-two] [--no-kill]
        [--store postgresql://…] [--keep]

Generates ``--pipelines`` tiny CSV → DuckDB pipeline files (``schedule: "* * * * *"``; they
are never run) and measures, each variant in its own subprocess, interleaved (A B A B …):

* ``dteg``: ``dteg.orchestrator.service.Orchestrator.serve()`` on a fresh store (SQLite in
  the scratch folder, or a fresh database on ``--store postgresql://…``) with a *recording
  executor*: ``free_slots`` is large; ``submit`` notes (run id, scheduled time, wall time) and
  hands the task to a thread that claims it and finishes it as succeeded through the store
  (``claim`` / ``finish_attempt``, as a worker would), so ``max_active_runs`` never holds a
  tick back. The thread's CPU (``time.thread_time``) is subtracted from the process's: the
  CPU share is the scheduler's own.
* ``baseline`` (naive cron loop): every second, ``croniter(expr, last).get_next()`` for every
  pipeline, and for each due tick one autocommitted ``INSERT`` into SQLite (WAL,
  ``synchronous=NORMAL``, unique on (pipeline, tick)); then ``time.sleep(1)``.

Each segment's window is ``--minutes / --pairs`` whole minutes starting at the first minute
boundary after the process is ready (files compiled, first pass done). Reported: lag from the
scheduled minute to the dispatch (p50/p99/max), dispatches per minute, the burst (how long the
last of a minute's N dispatches comes after the minute), duplicate ticks (a (pipeline, tick)
that got two runs or ran twice), missed ticks (window ticks never dispatched, or not finished
in the store), CPU share (``time.process_time`` / wall over the whole time it served).

Then, unless ``--no-two``: two dteg processes on ONE store for ``--two-minutes``; one is killed
with SIGKILL in the middle of a minute's burst and restarted (``--no-kill``: not). The store
must hold exactly one run per (pipeline, tick) of the window, each executed at most once.

Targets: p99 lag ≤ 1 s, ≥ 1,000 dispatches per minute, 0 duplicates, 0 missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
GRACE_S = 40.0  # after the window's last minute: time for its dispatches and finishes

PIPELINE = """\
pipeline:
  name: {name}
  schedule: "* * * * *"
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


def generate(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = f"sched_{i:05d}"
        (folder / f"{name}.yaml").write_text(PIPELINE.format(name=name))


def next_boundary(epoch: float) -> float:
    """The first whole minute strictly after ``epoch``."""
    return (math.floor(epoch / 60) + 1) * 60.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# --- the dteg child --------------------------------------------------------------------------


class RecordingExecutor:
    """Implements ``dteg.orchestrator.executors.Executor``: records each submit and has a
    thread claim and finish the run in the store at once."""

    claim_timeout_s = 30.0

    def __init__(self, store: Any, records: Path) -> None:
        self.store = store
        self.worker_id = "bench"
        self.thread_cpu = 0.0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._out = records.open("a", buffering=1)
        self._thread = threading.Thread(target=self._loop, name="bench-finisher", daemon=True)
        self._thread.start()

    def free_slots(self) -> int:
        return 100_000

    def submit(self, task: Any) -> None:
        self._queue.put((task, time.time()))

    def _loop(self) -> None:
        from dteg.orchestrator.store.store import AttemptResult

        while (item := self._queue.get()) is not None:
            task, dispatched = item
            now = datetime.now(timezone.utc)
            claimed = self.store.claim(task.run_id, task.attempt, self.worker_id, now)
            if claimed is not None:
                self.store.finish_attempt(task.run_id, task.attempt,
                                          AttemptResult("succeeded"),
                                          datetime.now(timezone.utc))
            tick = datetime.fromisoformat(task.scheduled_at).timestamp()
            self._out.write(json.dumps(dict(
                run=task.run_id, pipeline=task.pipeline, tick=tick, dispatched=dispatched,
                attempt=task.attempt, claimed=claimed is not None, pid=os.getpid())) + "\n")
        self.thread_cpu = time.thread_time()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._out.close()


def child_dteg(args: argparse.Namespace) -> None:
    from dteg.orchestrator.service import Orchestrator
    from dteg.orchestrator.settings import OrchestratorSettings
    from dteg.orchestrator.store.store import Store

    started = time.time()
    settings = OrchestratorSettings(pipelines_dir=Path(args.dir), store_url=args.store)
    store = Store.open(args.store)
    executor = RecordingExecutor(store, Path(args.records))
    orchestrator = Orchestrator(settings, store, executor, log=lambda text: None)
    executor.worker_id = orchestrator.heartbeat.id
    signal.signal(signal.SIGTERM, lambda *_: orchestrator.stopping.set())
    # The recording executor claims runs as this process: beat before the first pass so a
    # second scheduler's watcher does not take those claims for a dead worker's (a worker
    # with no heartbeat row at all counts as lost at once).
    orchestrator.heartbeat.beat()
    orchestrator.reload(orchestrator.clock())
    loaded = time.time()
    orchestrator.step()
    ready = time.time()
    Path(args.ready).write_text(json.dumps(dict(
        ready=ready, load_s=loaded - started, first_pass_s=ready - loaded,
        pipelines=len(orchestrator.catalog.revisions))))
    cpu0, wall0 = time.process_time(), time.time()
    orchestrator.serve()  # closes the executor (joins the finisher thread) when it stops
    cpu1, wall1 = time.process_time(), time.time()
    Path(args.result).write_text(json.dumps(dict(
        cpu_s=cpu1 - cpu0 - executor.thread_cpu, finisher_cpu_s=executor.thread_cpu,
        wall_s=wall1 - wall0, passes=orchestrator.passes)))


# --- the baseline child ----------------------------------------------------------------------


def child_baseline(args: argparse.Namespace) -> None:
    import sqlite3

    import yaml
    from croniter import croniter

    started = time.time()
    crons = []
    for path in sorted(Path(args.dir).glob("*.yaml")):
        body = yaml.safe_load(path.read_text())["pipeline"]
        crons.append((body["name"], body["schedule"]))
    db = sqlite3.connect(args.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS runs (pipeline TEXT, tick TEXT, dispatched REAL, "
               "UNIQUE (pipeline, tick))")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    now = datetime.now(timezone.utc)
    last = {name: now for name, _ in crons}
    records: list[dict[str, Any]] = []
    ready = time.time()
    Path(args.ready).write_text(json.dumps(dict(ready=ready, load_s=ready - started,
                                                first_pass_s=0.0, pipelines=len(crons))))
    cpu0, wall0 = time.process_time(), time.time()
    passes = 0
    while not stopping.is_set():
        now = datetime.now(timezone.utc)
        for name, expr in crons:
            upcoming = croniter(expr, last[name]).get_next(datetime)
            if upcoming <= now:
                inserted = db.execute("INSERT OR IGNORE INTO runs VALUES (?, ?, ?)",
                                      (name, upcoming.isoformat(), time.time())).rowcount
                records.append(dict(run=f"{name}@{upcoming.isoformat()}", pipeline=name,
                                    tick=upcoming.timestamp(), dispatched=time.time(),
                                    attempt=1, claimed=bool(inserted), pid=os.getpid()))
                last[name] = upcoming
        passes += 1
        stopping.wait(1.0)
    cpu1, wall1 = time.process_time(), time.time()
    with open(args.records, "w") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)
    Path(args.result).write_text(json.dumps(dict(cpu_s=cpu1 - cpu0, finisher_cpu_s=0.0,
                                                 wall_s=wall1 - wall0, passes=passes)))


# --- the parent ------------------------------------------------------------------------------


def fresh_store(base: str | None, folder: Path, tag: str) -> tuple[str, Any]:
    """A store URL nobody used yet, and how to drop it."""
    if not base:
        return f"sqlite:///{folder / f'{tag}.sqlite'}", lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"dteg_schedbench_{os.getpid()}_{tag}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


class Child:
    def __init__(self, kind: str, folder: Path, tag: str, extra: list[str]) -> None:
        self.ready = folder / f"{tag}.ready.json"
        self.result = folder / f"{tag}.result.json"
        self.records = folder / f"{tag}.records.jsonl"
        self.log = folder / f"{tag}.log"
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, __file__, kind, "--ready", str(self.ready), "--result",
             str(self.result), "--records", str(self.records), *extra],
            env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 600) -> dict[str, Any]:
        deadline = time.time() + timeout
        while not self.ready.exists():
            if self.process.poll() is not None or time.time() > deadline:
                raise SystemExit(f"child failed to start; see {self.log}:\n"
                                 + self.log.read_text()[-3000:])
            time.sleep(0.2)
        time.sleep(0.05)
        return json.loads(self.ready.read_text())

    def stop(self) -> dict[str, Any]:
        self.process.send_signal(signal.SIGTERM)
        if self.process.wait(timeout=120) != 0:
            raise SystemExit(f"child exited {self.process.returncode}; see {self.log}:\n"
                             + self.log.read_text()[-3000:])
        return json.loads(self.result.read_text())


def read_records(paths: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        if path.exists():
            rows += [json.loads(line) for line in path.read_text().splitlines() if line]
    return rows


def wait_window(records: list[Path], last: float, expected_last: int) -> None:
    """Until the window's last minute has all its dispatches (or GRACE_S passed)."""
    while time.time() < last + GRACE_S:
        if time.time() > last + 2:
            done = sum(1 for r in read_records(records) if r["tick"] == last and r["claimed"])
            if done >= expected_last:
                time.sleep(1.0)
                return
        time.sleep(1.0)


def store_check(url: str, names: list[str], ticks: list[float]) -> dict[str, int]:
    """From the store: window ticks without a run, with two runs, not finished, or executed
    more than once."""
    from sqlalchemy import create_engine, func, select

    from dteg.orchestrator.store.schema import attempts, runs

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(
            runs.c.id, runs.c.pipeline, runs.c.scheduled_at, runs.c.status)).all()
        # An attempt given up as lost (its process was killed) and retried is not a second
        # execution; two attempts that both ended otherwise are.
        executions = dict(connection.execute(select(
            attempts.c.run_id, func.count()).where(attempts.c.status != "lost")
            .group_by(attempts.c.run_id)).all())
        lost = connection.execute(select(func.count()).select_from(attempts).where(
            attempts.c.status == "lost")).scalar()
    engine.dispose()
    window = set(ticks)
    by_tick: dict[tuple[str, float], list[Any]] = defaultdict(list)
    for row in rows:
        if row.scheduled_at is not None and row.scheduled_at.timestamp() in window:
            by_tick[(row.pipeline, row.scheduled_at.timestamp())].append(row)
    wanted = [(n, t) for n in names for t in ticks]
    return dict(
        no_run=sum(1 for key in wanted if not by_tick.get(key)),
        two_runs=sum(1 for key in wanted if len(by_tick.get(key, ())) > 1),
        not_finished=sum(1 for key in wanted for r in by_tick.get(key, ())
                         if r.status not in ("succeeded", "failed")),
        failed=sum(1 for key in wanted for r in by_tick.get(key, ()) if r.status == "failed"),
        executed_twice=sum(1 for key in wanted for r in by_tick.get(key, ())
                           if executions.get(r.id, 0) > 1),
        lost_attempts=int(lost or 0),
    )


def summarize(name: str, records: list[dict[str, Any]], names: list[str], ticks: list[float],
              usage: list[dict[str, Any]], ready: list[dict[str, Any]]) -> dict[str, Any]:
    window = set(ticks)
    inside = [r for r in records if r["tick"] in window]
    first: dict[tuple[str, float], float] = {}
    for r in inside:
        key = (r["pipeline"], r["tick"])
        first[key] = min(first.get(key, math.inf), r["dispatched"])
    executed = Counter((r["pipeline"], r["tick"]) for r in inside if r["claimed"])
    runs_per_tick = defaultdict(set)
    for r in inside:
        runs_per_tick[(r["pipeline"], r["tick"])].add(r["run"])
    lags = [dispatched - key[1] for key, dispatched in first.items()]
    bursts = []
    for tick in ticks:
        these = [d for (p, t), d in first.items() if t == tick]
        if these:
            bursts.append(max(these) - tick)
    cpu = sum(u["cpu_s"] for u in usage)
    wall = sum(u["wall_s"] for u in usage)
    return dict(
        variant=name, expected=len(names) * len(ticks), dispatched=len(first),
        missed=len(names) * len(ticks) - len(first),
        duplicates=sum(1 for c in executed.values() if c > 1)
        + sum(1 for s in runs_per_tick.values() if len(s) > 1),
        redispatched=len(inside) - len(first),
        p50=percentile(lags, 50), p99=percentile(lags, 99), max=max(lags, default=math.nan),
        per_minute=len(first) / max(len(ticks), 1),
        burst_median=statistics.median(bursts) if bursts else math.nan,
        burst_max=max(bursts, default=math.nan),
        cpu_share=cpu / wall if wall else math.nan, cpu_s=cpu, wall_s=wall,
        finisher_cpu_s=sum(u["finisher_cpu_s"] for u in usage),
        load_s=statistics.median(r["load_s"] for r in ready),
        first_pass_s=statistics.median(r["first_pass_s"] for r in ready),
    )


def run_segment(kind: str, folder: Path, tag: str, minutes: int, n: int, names: list[str],
                store_base: str | None) -> tuple[list[dict[str, Any]], list[float],
                                                 dict[str, Any], dict[str, Any],
                                                 dict[str, int] | None]:
    pipelines = folder / "pipelines"
    drop: Any = lambda: None  # noqa: E731
    if kind == "_dteg":
        url, drop = fresh_store(store_base, folder, tag)
        extra = ["--dir", str(pipelines), "--store", url]
    else:
        url = ""
        extra = ["--dir", str(pipelines), "--db", str(folder / f"{tag}.sqlite")]
    child = Child(kind, folder, tag, extra)
    ready = child.wait_ready()
    first = next_boundary(ready["ready"])
    ticks = [first + 60 * i for i in range(minutes)]
    print(f"  {tag}: ready after {ready['load_s']:.1f} s load + {ready['first_pass_s']:.1f} s "
          f"first pass; window {datetime.fromtimestamp(first, timezone.utc):%H:%M}–"
          f"{datetime.fromtimestamp(ticks[-1], timezone.utc):%H:%M} UTC", flush=True)
    wait_window([child.records], ticks[-1], n)
    usage = child.stop()
    records = read_records([child.records])
    checked = store_check(url, names, ticks) if kind == "_dteg" else None
    drop()
    return records, ticks, usage, ready, checked


def run_two(folder: Path, minutes: int, n: int, names: list[str], store_base: str | None,
            kill: bool) -> tuple[dict[str, Any], dict[str, int], str]:
    url, drop = fresh_store(store_base, folder, "two")
    extra = ["--dir", str(folder / "pipelines"), "--store", url]
    a = Child("_dteg", folder, "two-a", extra)
    a_ready = a.wait_ready()
    b = Child("_dteg", folder, "two-b", extra)
    b_ready = b.wait_ready()
    first = next_boundary(max(a_ready["ready"], b_ready["ready"]))
    ticks = [first + 60 * i for i in range(minutes)]
    print(f"  two processes: window {datetime.fromtimestamp(first, timezone.utc):%H:%M}–"
          f"{datetime.fromtimestamp(ticks[-1], timezone.utc):%H:%M} UTC", flush=True)
    files = [a.records, b.records]
    usage, readies, story = [], [a_ready, b_ready], "no kill"
    children = [a, b]
    if kill:
        at = ticks[len(ticks) // 2] + 0.3  # in the middle of that minute's burst
        while time.time() < at:
            time.sleep(0.05)
        # Kill the one doing the work (the other mostly finds each run taken already).
        done = {c: sum(1 for r in read_records([c.records]) if r["claimed"]) for c in (a, b)}
        victim = max(done, key=lambda c: done[c])
        victim.process.kill()
        victim.process.wait()
        label = "A" if victim is a else "B"
        story = (f"SIGKILL of process {label} (the busier: {done[victim]} runs finished, the "
                 f"other {done[b if victim is a else a]}) at "
                 f"{at - ticks[len(ticks) // 2]:.1f} s after "
                 f"{datetime.fromtimestamp(ticks[len(ticks) // 2], timezone.utc):%H:%M}, "
                 "restarted 3 s later")
        time.sleep(3)
        again = Child("_dteg", folder, f"two-{label.lower()}2", extra)
        readies.append(again.wait_ready())
        files.append(again.records)
        children = [b if victim is a else a, again]
    wait_window(files, ticks[-1], n)
    # A run the killed process had claimed waits heartbeat_timeout (30 s) to be given up.
    for child in children:
        usage.append(child.stop())
    records = read_records(files)
    summary = summarize("two dteg processes", records, names, ticks, usage, readies)
    checked = store_check(url, names, ticks)
    drop()
    return summary, checked, story


def fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:,.{digits}f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ("variant", "ticks", "dispatched", "missed", "dup", "p50 s", "p99 s", "max s",
            "per min", "burst med s", "burst max s", "CPU share")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print(f"| {r['variant']} | {r['expected']:,} | {r['dispatched']:,} | {r['missed']:,} | "
              f"{r['duplicates']:,} | {fmt(r['p50'])} | {fmt(r['p99'])} | {fmt(r['max'])} | "
              f"{r['per_minute']:,.0f} | {fmt(r['burst_median'], 2)} | "
              f"{fmt(r['burst_max'], 2)} | {100 * r['cpu_share']:.1f} % |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=10, help="dteg minutes, all pairs")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--baseline-minutes", type=int, default=4, help="all pairs")
    parser.add_argument("--two-minutes", type=int, default=3)
    parser.add_argument("--no-two", action="store_true")
    parser.add_argument("--two-only", action="store_true", help="only the two-process part")
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument("--store", help="postgresql://… (a fresh database per segment); "
                        "default: SQLite files in the scratch folder")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    folder = OUT_DIR / f"scheduler-{os.getpid()}"
    generate(folder / "pipelines", args.pipelines)
    names = [f"sched_{i:05d}" for i in range(args.pipelines)]
    print(f"{datetime.now():%Y-%m-%d %H:%M}, {args.pipelines} every-minute pipelines, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; store "
          f"{'SQLite' if not args.store else 'PostgreSQL'}", flush=True)
    ok = True
    if not args.two_only:
        ok = single(args, folder, names)
    if not args.no_two:
        ok = two(args, folder, names) and ok
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"kept {folder}")
    return 0 if ok else 1


def single(args: argparse.Namespace, folder: Path, names: list[str]) -> bool:
    """dteg and the baseline, one process each, A B A B."""
    dteg_minutes = max(1, args.minutes // args.pairs)
    base_minutes = max(1, args.baseline_minutes // args.pairs)
    collected: dict[str, Any] = {"dteg": [[], [], [], []], "baseline": [[], [], [], []]}
    checks: list[dict[str, int]] = []
    for pair in range(args.pairs):
        for variant, kind, minutes in (("dteg", "_dteg", dteg_minutes),
                                       ("baseline", "_baseline", base_minutes)):
            records, ticks, usage, ready, checked = run_segment(
                kind, folder, f"{variant}-{pair}", minutes, args.pipelines, names, args.store)
            # Ticks of different segments never collide (each is its own minutes).
            bucket = collected[variant]
            bucket[0] += records
            bucket[1] += ticks
            bucket[2].append(usage)
            bucket[3].append(ready)
            if checked:
                checks.append(checked)
    rows = [summarize("dteg Orchestrator", *_args(collected["dteg"], names)),
            summarize("baseline: croniter loop + SQLite", *_args(collected["baseline"], names))]
    print(f"\nload average now {os.getloadavg()[0]:.2f}")
    print_table(rows)
    dteg, base = rows
    store_problems = {k: sum(c[k] for c in checks) for k in checks[0]} if checks else {}
    print(f"\n* dteg start-up: {dteg['load_s']:.1f} s to compile and record the pipelines, "
          f"{dteg['first_pass_s']:.1f} s first pass (median of {args.pairs})")
    print(f"* dteg CPU {dteg['cpu_s']:.1f} s over {dteg['wall_s']:.0f} s serving "
          f"(+ {dteg['finisher_cpu_s']:.1f} s in the recording executor's finisher thread, "
          f"not counted); baseline {base['cpu_s']:.1f} s over {base['wall_s']:.0f} s")
    print(f"* ratio dteg / baseline: p99 lag {dteg['p99'] / base['p99']:.2f}, CPU share "
          f"{dteg['cpu_share'] / base['cpu_share']:.2f}")
    print(f"* dteg store check over the window: {store_problems}")
    print(f"* targets: p99 ≤ 1 s: {'meets' if dteg['p99'] <= 1 else 'MISSES'}; "
          f"≥ 1,000/min: {'meets' if dteg['per_minute'] >= 1000 else 'MISSES'}; "
          f"0 duplicates: {'meets' if dteg['duplicates'] == 0 else 'MISSES'}; "
          f"0 missed: {'meets' if dteg['missed'] == 0 else 'MISSES'}")
    return (dteg["p99"] <= 1.0 and dteg["per_minute"] >= 1000 and dteg["missed"] == 0
            and dteg["duplicates"] == 0
            and not any(store_problems.get(k) for k in ("no_run", "two_runs", "not_finished",
                                                       "executed_twice")))


def two(args: argparse.Namespace, folder: Path, names: list[str]) -> bool:
    summary, checked, story = run_two(folder, args.two_minutes, args.pipelines, names,
                                      args.store, kill=not args.no_kill)
    print(f"\ntwo dteg processes on one store, {args.two_minutes} min: {story}")
    print_table([summary])
    print(f"* redispatched (taken back, or retried after a lost attempt, and sent again): "
          f"{summary['redispatched']}; store check: {checked}")
    ok = (summary["duplicates"] == 0 and not checked["no_run"] and not checked["two_runs"]
          and not checked["executed_twice"] and not checked["not_finished"])
    print(f"* zero duplicates and zero missed: {'holds' if ok else 'FAILS'}")
    return ok


def _args(bucket: list[Any], names: list[str]) -> tuple[Any, ...]:
    records, ticks, usage, ready = bucket
    return records, names, ticks, usage, ready


def child_main(kind: str, argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for option in ("--ready", "--result", "--records", "--dir", "--store", "--db"):
        parser.add_argument(option)
    args = parser.parse_args(argv)
    (child_dteg if kind == "_dteg" else child_baseline)(args)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("_dteg", "_baseline"):
        child_main(sys.argv[1], sys.argv[2:])
    else:
        sys.exit(main())
