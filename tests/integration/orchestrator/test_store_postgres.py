"""The orchestrator's store on a real PostgreSQL (``scripts/services/postgres``), a fresh
database per test: the migrations build exactly the schema, and the guarded updates hold
under real concurrency — processes opening and migrating one new store at once, two
schedulers creating the same ticks, workers claiming the same run — one winner each time.

``store_url`` (a fresh database's ``postgresql+psycopg://`` URL) is used by the Celery
tests too.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.scheduler import Scheduler
from dteg.orchestrator.store import migrate
from dteg.orchestrator.store.schema import metadata
from dteg.orchestrator.store.store import Store
from tests.integration.databases import postgres_server  # noqa: F401
from tests.unit.orchestrator.conftest import write_pipeline

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 12, 0, 30, tzinfo=timezone.utc)
SHA = "b" * 64
T = TypeVar("T")


@pytest.fixture
def store_url(postgres_server: dict[str, str]) -> Iterator[str]:  # noqa: F811
    """The SQLAlchemy URL of a new, empty database (dropped after the test)."""
    import psycopg

    env = postgres_server
    admin_url = env["DTEG_POSTGRES_URL"]
    database = f"dteg_store_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        yield (f"postgresql+psycopg://{env['DTEG_POSTGRES_USER']}:"
               f"{env['DTEG_POSTGRES_PASSWORD']}@{env['DTEG_POSTGRES_HOST']}:"
               f"{env['DTEG_POSTGRES_PORT']}/{database}")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _all_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """``work(0..count-1)`` on ``count`` threads released together."""
    barrier = threading.Barrier(count, timeout=60)

    def one(index: int) -> T:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_migrations_reach_head_and_match_the_schema(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        assert migrate.current(store.engine) == migrate.head()
        with store.engine.connect() as connection:
            assert connection.dialect.name == "postgresql"
            diff = compare_metadata(MigrationContext.configure(
                connection, opts={"version_table": migrate.VERSION_TABLE}), metadata)
        assert diff == []
        # Opening a current store again is a no-op that keeps the data.
        store.save_pipeline("p", "/p.yaml", SHA, "pipeline: {}", None, NOW)
        again = Store.open(store_url)
        assert [p.name for p in again.pipelines()] == ["p"]
        again.close()
    finally:
        store.close()


def _open_and_create_ticks(url: str, barrier: Any, ticks: int, results: Any) -> None:
    """In a child process: open (and migrate) the store, record the pipeline, then create
    every tick's run; puts the ids it created (or the error) on ``results``."""
    try:
        barrier.wait()
        store = Store.open(url)
        barrier.wait()
        store.save_pipeline("p", "/p.yaml", SHA, "pipeline: {}", "* * * * *", NOW)
        created = []
        for minute in range(ticks):
            run = store.create_run(pipeline="p", dedupe_key=f"tick:{minute}", sha256=SHA,
                                   kind="schedule", now=NOW,
                                   scheduled_at=NOW + timedelta(minutes=minute))
            if run is not None:
                created.append(run.id)
        store.close()
        results.put(created)
    except BaseException as exc:
        results.put(f"{type(exc).__name__}: {exc}")
        raise


def test_processes_that_migrate_and_create_the_same_ticks_make_one_run_each(
        store_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    workers, ticks = 4, 40
    barrier, results = context.Barrier(workers, timeout=120), context.Queue()
    processes = [context.Process(target=_open_and_create_ticks,
                                 args=(store_url, barrier, ticks, results))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    created = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [c for c in created if isinstance(c, str)] == []
    assert [p.exitcode for p in processes] == [0] * workers
    assert sum(len(ids) for ids in created) == ticks
    store = Store.open(store_url)
    try:
        runs = store.runs("p", limit=1000)
        assert len(runs) == ticks
        assert Counter(r.dedupe_key for r in runs) == {f"tick:{m}": 1 for m in range(ticks)}
        with store.engine.connect() as connection:
            versions = connection.execute(text(
                f"SELECT count(*) FROM {migrate.VERSION_TABLE}")).scalar()
        assert versions == 1
    finally:
        store.close()


def test_two_schedulers_ticking_together_create_each_tick_once(
        store_url: str, tmp_path: Path) -> None:
    write_pipeline(tmp_path, "every", '  schedule: "* * * * *"\n')
    stores = [Store.open(store_url) for _ in range(2)]
    schedulers = []
    for store in stores:
        catalog = Catalog(tmp_path)
        scheduler = Scheduler(store, catalog)
        scheduler.sync(catalog.refresh(), NOW)
        schedulers.append(scheduler)
    minutes = 20
    created: list[int] = []
    for step in range(0, minutes * 60, 20):
        now = NOW + timedelta(seconds=step)
        created += _all_at_once(2, lambda i: len(schedulers[i].tick(now)))  # noqa: B023
    try:
        runs = stores[0].runs("every", limit=1000)
        ticks = Counter(r.scheduled_at for r in runs if r.scheduled_at is not None)
        first = NOW.replace(second=0) + timedelta(minutes=1)
        assert sorted(ticks) == [first + timedelta(minutes=m) for m in range(minutes)]
        assert set(ticks.values()) == {1}
        assert sum(created) == minutes
    finally:
        for store in stores:
            store.close()


def test_concurrent_claims_and_dispatches_have_one_winner(store_url: str) -> None:
    contenders = 6
    stores = [Store.open(store_url) for _ in range(contenders)]
    try:
        stores[0].save_pipeline("p", "/p.yaml", SHA, "pipeline: {}", None, NOW)
        for round_ in range(10):
            run = stores[0].create_run(pipeline="p", dedupe_key=f"manual:{round_}",
                                       sha256=SHA, kind="manual", now=NOW, max_attempts=3)
            assert run is not None
            dispatched = _all_at_once(contenders, lambda i: stores[i].mark_dispatched(
                run.id, SHA, NOW))  # noqa: B023
            assert sum(d is not None for d in dispatched) == 1
            claims = _all_at_once(contenders, lambda i: stores[i].claim(
                run.id, 1, f"worker-{i}", NOW))  # noqa: B023
            winners = [c for c in claims if c is not None]
            assert len(winners) == 1 and winners[0].status == "running"
            attempts = stores[0].attempts(run.id)
            assert [(a.number, a.worker) for a in attempts] == [(1, winners[0].worker)]
    finally:
        for store in stores:
            store.close()
