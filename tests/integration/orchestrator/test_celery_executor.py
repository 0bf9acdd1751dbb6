"""``executor: celery`` end to end: real Redis as the broker, the store on a real PostgreSQL
(a fresh database per test), ``dteg scheduler`` (two of them in the first test) and two
``dteg worker`` processes.

- scheduled and manual runs succeed, both workers take runs, each tick has one run;
- kill -9 of the worker holding a PostgreSQL → PostgreSQL merge mid-run: the attempt is
  marked lost naming that worker, the other worker's retry succeeds, and the target holds
  exactly the source's rows;
- a task whose YAML does not match its sha256 is refused and recorded; a task delivered twice
  (and again after it ran) runs once.

Every wait is for a state, with a generous deadline; Redis gets an empty database number of
its own per test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dteg.orchestrator.catalog import sha256_text
from dteg.orchestrator.executors.celery import QUEUE, TASK, CeleryExecutor
from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.store import Store
from dteg.orchestrator.task import RunTask
from tests.integration.databases import pg, postgres_server, rows  # noqa: F401
from tests.integration.orchestrator.server_process import DTEG, wait_for
from tests.integration.orchestrator.server_process import DtegProcess as Dteg
from tests.integration.orchestrator.test_store_postgres import store_url  # noqa: F401
from tests.integration.redis_service import redis_server  # noqa: F401
from tests.integration.service_guard import service_unavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CSV = "id,name\n1,ada\n2,grace\n3,edsger\n"
TO_DUCKDB = """\
pipeline:
  name: alpha
  schedule: "* * * * *"
  steps:
    - extract: {type: csv, config: {path: in.csv}}
    - load: {type: duckdb, config: {database: alpha.duckdb, table: people, mode: replace}}
"""
TO_POSTGRES = """\
pipeline:
  name: %(name)s
%(extra)s  steps:
    - extract: {type: csv, config: {path: in.csv}}
    - load:
        type: postgres
        config: {url: "${env:DTEG_POSTGRES_URL}", table: %(table)s, mode: %(mode)s}
"""
SOURCE_ROWS = 200_000
# Throttled so that an attempt reads for about 10 s: long enough to be killed mid-run.
MERGE = """\
pipeline:
  name: merge_big
  retries: {max_attempts: 3, initial: 1s}
  steps:
    - extract:
        type: postgres
        config: {url: "${env:DTEG_POSTGRES_URL}", table: src, batch_rows: 5000,
                 max_rows_per_second: 20000}
    - load:
        type: postgres
        config: {url: "${env:DTEG_POSTGRES_URL}", table: dst, mode: merge, key: id}
"""



@dataclass
class Cluster:
    store: Store
    store_url: str
    broker_url: str
    workers: list[Dteg]
    schedulers: list[Dteg]

    def logs(self) -> str:
        parts = [*self.schedulers, *self.workers]
        return "\n".join(f"--- {p.log_path.name} ---\n{p.log()[-3000:]}" for p in parts)

    def worker_ids(self) -> dict[str, Dteg]:
        """The store's id of each live worker (``worker:<host>:<pid>:…``) → its process."""
        by_pid = {w.pid: w for w in self.workers}
        return {p.id: by_pid[p.pid] for p in self.store.processes("worker")
                if p.pid in by_pid}


@pytest.fixture
def broker_url(redis_server: dict[str, str]) -> Iterator[str]:  # noqa: F811
    """The shared Redis, on a database number no one else uses now (emptied afterwards)."""
    import redis

    base = redis_server["DTEG_REDIS_URL"].rsplit("/", 1)[0]
    for number in range(15, 0, -1):
        client = redis.Redis.from_url(f"{base}/{number}")
        try:
            empty = client.dbsize() == 0
        except redis.RedisError as exc:
            service_unavailable(f"redis at {base} does not answer: {exc}")
        if empty:
            client.set("dteg-test-owner", str(os.getpid()))
            break
        client.close()
    else:
        pytest.fail("no empty Redis database number (1-15) for this test")
    try:
        yield f"{base}/{number}"
    finally:
        client.flushdb()
        client.close()


def _start(tmp_path: Path, store_url: str, broker_url: str,  # noqa: F811
           pipelines: Path | None = None, env: dict[str, str] | None = None,
           schedulers: int = 1) -> Cluster:
    """Two ``dteg worker`` processes (ready on the broker, beating in the store) and, with
    ``pipelines``, ``schedulers`` ``dteg scheduler`` processes on that folder."""
    store = Store.open(store_url)
    options = ("--store", store_url, "--broker", broker_url)
    workers = [Dteg(tmp_path / f"worker{n}.log", "worker", *options, cwd=tmp_path).start()
               for n in (1, 2)]
    cluster = Cluster(store, store_url, broker_url, workers, [])
    for worker in workers:
        wait_for(lambda w=worker: " ready." in w.log(), f"{worker.log_path.name} ready",
                 timeout=120, log=cluster.logs)
    wait_for(lambda: len(cluster.worker_ids()) == 2, "two workers beating in the store",
             log=cluster.logs)
    if pipelines is not None:
        cluster.schedulers = [
            Dteg(tmp_path / f"scheduler{n}.log", "scheduler", "--port", "0", "--pipelines",
                 str(pipelines), *options, env=env).start()
            for n in range(1, schedulers + 1)]
    return cluster


def _stop(cluster: Cluster) -> None:
    for process in [*cluster.schedulers, *cluster.workers]:
        process.stop()
    cluster.store.close()


def _queue_manual(name: str, store_url: str, cwd: Path) -> str:  # noqa: F811
    """``dteg pipelines run NAME --store URL`` (from a folder without pipelines)."""
    done = subprocess.run([DTEG, "pipelines", "run", name, "--store", store_url], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"queued run (\S+) of", done.stdout + done.stderr)
    assert match, done.stdout + done.stderr
    return match.group(1)


def _finished(store: Store, run_id: str) -> RunRow | None:
    run = store.run(run_id)
    return run if run is not None and run.status in ("succeeded", "failed") else None


def test_scheduled_and_manual_runs_on_two_workers(
        tmp_path: Path, store_url: str, broker_url: str, pg: Any) -> None:  # noqa: F811
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "in.csv").write_text(CSV)
    (folder / "alpha.yaml").write_text(TO_DUCKDB)
    (folder / "beta.yaml").write_text(TO_POSTGRES % dict(
        name="beta", extra='  schedule: "* * * * *"\n', table="people", mode="replace"))
    # Two schedulers on one store (high availability): still one run per tick.
    cluster = _start(tmp_path, store_url, broker_url, folder, schedulers=2)
    store = cluster.store
    try:
        wait_for(lambda: {p.name for p in store.pipelines()} == {"alpha", "beta"},
                 "the scheduler to record both pipelines", log=cluster.logs)
        manual = [_queue_manual(name, store_url, tmp_path) for name in ("alpha", "beta")]
        for run_id in manual:
            run = wait_for(lambda r=run_id: _finished(store, r), f"manual run {run_id}",
                           timeout=150, log=cluster.logs)
            assert run.status == "succeeded", (run.error, cluster.logs())

        def scheduled(name: str) -> list[RunRow]:
            return [r for r in store.runs(name, limit=100)
                    if r.kind == "schedule" and r.status == "succeeded"]

        for name in ("alpha", "beta"):
            wait_for(lambda n=name: scheduled(n), f"a scheduled run of {name}", timeout=150,
                     log=cluster.logs)
        wait_for(lambda: not store.runs(status=("queued", "dispatched", "running")),
                 "every queued run to end", timeout=150, log=cluster.logs)

        assert [s.alive() for s in cluster.schedulers] == [True, True], cluster.logs()
        assert len(store.processes("scheduler")) == 2
        runs = store.runs(limit=100)
        assert {r.status for r in runs} == {"succeeded"}, [(r.id, r.error) for r in runs]
        assert {r.kind for r in runs} == {"manual", "schedule"}
        ticks = Counter((r.pipeline, r.scheduled_at) for r in runs if r.kind == "schedule")
        assert set(ticks.values()) == {1}, ticks
        assert all(r.scheduled_at is not None and r.scheduled_at.second == 0
                   for r in runs if r.kind == "schedule")
        # Runs of two pipelines at once go to both workers (each runs one at a time and
        # reserves nothing while busy).
        assert {r.worker for r in runs} == set(cluster.worker_ids()), cluster.logs()
        by_tick: dict[datetime, set[str | None]] = {}
        for run in runs:
            if run.kind == "schedule" and run.scheduled_at is not None:
                by_tick.setdefault(run.scheduled_at, set()).add(run.worker)
        assert all(len(workers) == 2 for workers in by_tick.values()), by_tick
        for run in runs:
            assert run.attempt == 1 and run.rows_loaded == 3, run
            assert [(a.number, a.status) for a in store.attempts(run.id)] == [
                (1, "succeeded")]
            assert any("attempt 1 of" in line.message for line in store.logs(run.id))
        assert rows(pg, "SELECT count(*) FROM people") == [(3,)]
        import duckdb

        with duckdb.connect(str(folder / "alpha.duckdb"), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM people").fetchall() == [(3,)]
    finally:
        _stop(cluster)


def test_kill_9_of_the_worker_mid_merge_retries_on_the_other_without_loss_or_doubles(
        tmp_path: Path, store_url: str, broker_url: str, pg: Any) -> None:  # noqa: F811
    pg.execute(f"CREATE TABLE src AS SELECT g AS id, md5(g::text) AS v, g % 97 AS n "
               f"FROM generate_series(1, {SOURCE_ROWS}) AS g")
    pg.execute("ALTER TABLE src ADD PRIMARY KEY (id)")
    # The target already holds some keys with old values: the merge must update them.
    pg.execute("CREATE TABLE dst (id integer PRIMARY KEY, v text, n integer)")
    pg.execute("INSERT INTO dst SELECT g, 'old', -1 FROM generate_series(1, 5000) AS g")
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "merge.yaml").write_text(MERGE)
    cluster = _start(tmp_path, store_url, broker_url, folder,
                     env={"DTEG_HEARTBEAT_TIMEOUT": "5s"})
    store = cluster.store
    try:
        wait_for(lambda: store.pipeline("merge_big"), "the scheduler to record merge_big",
                 log=cluster.logs)
        run_id = _queue_manual("merge_big", store_url, tmp_path)

        def mid_run() -> RunRow | None:
            run = store.run(run_id)
            return (run if run is not None and run.status == "running"
                    and run.first_read_at is not None else None)

        running = wait_for(mid_run, "attempt 1 reading", timeout=150, log=cluster.logs)
        assert running.attempt == 1 and running.worker is not None
        workers = cluster.worker_ids()
        victim = workers[running.worker]
        (survivor_id,) = set(workers) - {running.worker}
        assert victim.kill9() == -signal.SIGKILL
        assert store.run(run_id).status == "running"  # type: ignore[union-attr]

        done = wait_for(lambda: _finished(store, run_id), "the retried run to end",
                        timeout=150, log=cluster.logs)
        assert done.status == "succeeded", (done.error, cluster.logs())
        assert done.attempt == 2 and done.worker == survivor_id
        attempts = store.attempts(run_id)
        assert [(a.number, a.status, a.worker) for a in attempts] == [
            (1, "lost", running.worker), (2, "succeeded", survivor_id)]
        lost = attempts[0].error or ""
        assert f"worker {running.worker} stopped" in lost and "attempt 1" in lost
        assert attempts[0].retriable
        assert done.rows_loaded == SOURCE_ROWS
        assert f"run {run_id} of merge_big: worker {running.worker} stopped" in (
            cluster.schedulers[0].log())

        assert rows(pg, "SELECT count(*), count(DISTINCT id) FROM dst") == [
            (SOURCE_ROWS, SOURCE_ROWS)]
        assert rows(pg, "SELECT count(*) FROM src JOIN dst USING (id) "
                        "WHERE src.v = dst.v AND src.n = dst.n") == [(SOURCE_ROWS,)]
        # The killed attempt's staging table was cleaned up by the retry.
        assert rows(pg, "SELECT tablename FROM pg_tables WHERE schemaname = "
                        "current_schema() ORDER BY 1") == [("dst",), ("src",)]
    finally:
        _stop(cluster)


def _dispatched(store: Store, name: str, path: Path, text: str) -> RunTask:
    """A run of ``name`` queued and dispatched in the store, as the scheduler does, and its
    task (not sent yet)."""
    now = datetime.now(timezone.utc)
    sha = sha256_text(text)
    store.save_pipeline(name, str(path), sha, text, None, now)
    queued = store.create_run(pipeline=name, dedupe_key=f"manual:{now.isoformat()}",
                              sha256=sha, kind="manual", now=now)
    assert queued is not None
    run = store.mark_dispatched(queued.id, sha, now)
    assert run is not None
    return RunTask(run_id=run.id, attempt=run.attempt, pipeline=name, path=str(path),
                   yaml_text=text, sha256=sha, kind=run.kind, max_attempts=run.max_attempts)


def _send(executor: CeleryExecutor, task: RunTask) -> str:
    return str(executor.app.send_task(TASK, args=[task.to_json()], queue=QUEUE).id)


def _consumed(cluster: Cluster, message_id: str) -> bool:
    return any(f"Task {TASK}[{message_id}] succeeded" in w.log() for w in cluster.workers)


def test_a_tampered_task_is_refused_and_a_duplicate_runs_once(
        tmp_path: Path, store_url: str, broker_url: str, pg: Any) -> None:  # noqa: F811
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "in.csv").write_text(CSV)
    path = folder / "append.yaml"
    text = TO_POSTGRES % dict(name="appender", extra="", table="appended", mode="append")
    path.write_text(text)
    cluster = _start(tmp_path, store_url, broker_url)
    store = cluster.store
    executor = CeleryExecutor(broker_url, store)
    try:
        # The YAML was changed after the sha256 was taken: refused, recorded, not run.
        genuine = _dispatched(store, "appender", path, text)
        tampered = RunTask(**{**genuine.__dict__, "yaml_text": text.replace(
            "table: appended", "table: hijacked")})
        message = _send(executor, tampered)
        refused = wait_for(lambda: _finished(store, tampered.run_id), "the refusal",
                           timeout=120, log=cluster.logs)
        assert refused.status == "failed" and not refused.retriable
        assert "does not match its sha256" in (refused.error or "")
        assert "it was not run" in (refused.error or "")
        assert [(a.number, a.status) for a in store.attempts(refused.id)] == [(1, "failed")]
        wait_for(lambda: _consumed(cluster, message), "the tampered message consumed",
                 log=cluster.logs)
        assert rows(pg, "SELECT count(*) FROM pg_tables WHERE tablename IN "
                        "('hijacked', 'appended')") == [(0,)]

        # The same task twice at once (both workers free), then once more after it ran.
        task = _dispatched(store, "appender", path, text)
        copies = [_send(executor, task), _send(executor, task)]
        done = wait_for(lambda: _finished(store, task.run_id), "the duplicated run",
                        timeout=150, log=cluster.logs)
        assert done.status == "succeeded", (done.error, cluster.logs())
        late = _send(executor, task)
        for copy in [*copies, late]:
            wait_for(lambda c=copy: _consumed(cluster, c), f"message {copy} consumed",
                     log=cluster.logs)
        assert [(a.number, a.status) for a in store.attempts(task.run_id)] == [
            (1, "succeeded")]
        assert rows(pg, "SELECT count(*) FROM appended") == [(3,)]
        dropped = sum(w.log().count(f"dropped a stale task: run {task.run_id} attempt 1")
                      for w in cluster.workers)
        assert dropped == 2, cluster.logs()
        final = store.run(task.run_id)
        assert final is not None and final.status == "succeeded" and final.attempt == 1
    finally:
        executor.close()
        _stop(cluster)
