"""The store's guarded transitions: what two schedulers, a restarted one, or a worker given
up for lost cannot do twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dteg.orchestrator.store import migrate
from dteg.orchestrator.store.schema import metadata
from dteg.orchestrator.store.store import AttemptResult, StepCount, Store

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
SHA = "a" * 64


def _queued(store: Store, key: str = "tick:1", **extra: object) -> str:
    store.save_pipeline("p", "/p.yaml", SHA, "pipeline: {}", "* * * * *", NOW)
    run = store.create_run(pipeline="p", dedupe_key=key, sha256=SHA, kind="schedule",
                           now=NOW, max_attempts=3, **extra)  # type: ignore[arg-type]
    assert run is not None and run.status == "queued"
    return run.id


def test_migrations_create_exactly_the_tables_of_the_schema(store: Store) -> None:
    assert migrate.current(store.engine) == migrate.head()
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(
            connection, opts={"version_table": migrate.VERSION_TABLE}), metadata)
    assert diff == []


def test_opening_a_current_store_again_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    first = Store.open(url)
    _queued(first)
    second = Store.open(url)
    assert [r.pipeline for r in second.runs()] == ["p"]


def test_a_tick_has_one_run_however_often_it_is_created(store: Store) -> None:
    _queued(store)
    again = store.create_run(pipeline="p", dedupe_key="tick:1", sha256=SHA, kind="schedule",
                             now=NOW)
    assert again is None
    assert len(store.runs("p")) == 1


def test_only_one_dispatcher_and_one_worker_win(store: Store) -> None:
    run_id = _queued(store)
    first = store.mark_dispatched(run_id, SHA, NOW)
    assert first is not None and first.attempt == 1
    assert store.mark_dispatched(run_id, SHA, NOW) is None
    assert store.claim(run_id, 1, "w1", NOW) is not None
    assert store.claim(run_id, 1, "w2", NOW) is None
    assert store.claim(run_id, 2, "w2", NOW) is None


def test_a_retriable_failure_queues_the_next_attempt(store: Store) -> None:
    run_id = _queued(store)
    store.mark_dispatched(run_id, SHA, NOW)
    store.claim(run_id, 1, "w1", NOW)
    later = NOW + timedelta(seconds=30)
    run = store.finish_attempt(run_id, 1, AttemptResult("failed", "connection refused", True),
                               NOW + timedelta(seconds=2), retry_at=later)
    assert run is not None and run.status == "queued" and run.not_before == later
    assert store.ready(NOW + timedelta(seconds=10)) == []
    assert [r.id for r in store.ready(later)] == [run_id]
    second = store.mark_dispatched(run_id, SHA, later)
    assert second is not None and second.attempt == 2
    store.claim(run_id, 2, "w2", later)
    done = store.finish_attempt(run_id, 2, AttemptResult(
        "succeeded", rows_read=2, rows_loaded=2,
        steps=(StepCount("load", "load", 2, 0, 0, 2),)), later + timedelta(seconds=1))
    assert done is not None and done.status == "succeeded" and done.rows_loaded == 2
    attempts = store.attempts(run_id)
    assert [(a.number, a.status, a.error) for a in attempts] == [
        (1, "failed", "connection refused"), (2, "succeeded", None)]
    assert store.pipeline("p").last_success == later + timedelta(seconds=1)  # type: ignore[union-attr]


def test_a_lost_worker_that_comes_back_cannot_overwrite_the_retry(store: Store) -> None:
    run_id = _queued(store)
    store.mark_dispatched(run_id, SHA, NOW)
    store.claim(run_id, 1, "worker:gone", NOW)
    assert [r.id for r in store.lost(NOW + timedelta(seconds=1))] == [run_id]
    store.finish_attempt(run_id, 1, AttemptResult("lost", "no heartbeat", True), NOW,
                         retry_at=NOW)
    # The old worker finishes after all: its result is refused.
    assert store.finish_attempt(run_id, 1, AttemptResult("succeeded"), NOW) is None
    assert store.run(run_id).status == "queued"  # type: ignore[union-attr]


def test_a_live_worker_is_not_lost(store: Store) -> None:
    run_id = _queued(store)
    store.heartbeat("worker:here", "worker", NOW, NOW)
    store.mark_dispatched(run_id, SHA, NOW)
    store.claim(run_id, 1, "worker:here", NOW)
    assert store.lost(NOW - timedelta(seconds=30)) == []
    assert [r.id for r in store.lost(NOW + timedelta(seconds=1))] == [run_id]


def test_an_unclaimed_task_is_taken_back_without_spending_an_attempt(store: Store) -> None:
    run_id = _queued(store)
    store.mark_dispatched(run_id, SHA, NOW)
    assert [r.id for r in store.unclaimed(NOW + timedelta(seconds=1))] == [run_id]
    assert store.take_back(run_id, 1)
    run = store.run(run_id)
    assert run is not None and run.status == "queued" and run.attempt == 0


def test_a_cancelled_run_is_not_claimed(store: Store) -> None:
    run_id = _queued(store)
    store.mark_dispatched(run_id, SHA, NOW)
    assert store.cancel(run_id, NOW)
    assert store.claim(run_id, 1, "w", NOW) is None


def test_logs_are_paged_in_order(store: Store) -> None:
    run_id = _queued(store)
    store.append_logs(run_id, 1, [(NOW, "INFO", None, f"line {n}") for n in range(5)])
    first = store.logs(run_id, limit=2)
    rest = store.logs(run_id, after=first[-1].id)
    assert [line.message for line in first + rest] == [f"line {n}" for n in range(5)]


def test_each_ended_attempt_is_handled_once(store: Store) -> None:
    run_id = _queued(store)
    store.mark_dispatched(run_id, SHA, NOW)
    store.claim(run_id, 1, "w", NOW)
    store.finish_attempt(run_id, 1, AttemptResult("failed", "boom"), NOW)
    assert [r.id for r in store.unhandled()] == [run_id]
    assert store.mark_handled(run_id, 1)
    assert not store.mark_handled(run_id, 1)
    assert store.unhandled() == []


def test_purge_deletes_old_finished_runs_and_their_rows(store: Store) -> None:
    old = _queued(store, "tick:old")
    store.mark_dispatched(old, SHA, NOW)
    store.claim(old, 1, "w", NOW)
    store.append_logs(old, 1, [(NOW, "INFO", None, "x")])
    store.finish_attempt(old, 1, AttemptResult("succeeded"), NOW)
    recent = _queued(store, "tick:new")
    assert store.purge(NOW + timedelta(days=1)) == 1
    assert store.run(old) is None and store.logs(old) == [] and store.attempts(old) == []
    assert store.run(recent) is not None


def test_passwords_never_show_in_the_store_url() -> None:
    from dteg.orchestrator.store.store import redacted_url

    assert "s3cret" not in redacted_url("postgresql://dteg:s3cret@db:5432/dteg")


def test_a_live_worker_that_left_its_run_has_lost_it(store: Store) -> None:
    run_id = _queued(store)
    store.mark_dispatched(run_id, SHA, NOW)
    store.claim(run_id, 1, "worker:here", NOW)
    later = NOW + timedelta(seconds=60)
    # It still beats, but says it is on no run (its store connection failed mid-run).
    store.heartbeat("worker:here", "worker", NOW, later, current_run=None)
    assert [r.id for r in store.lost(later - timedelta(seconds=30))] == [run_id]
    store.heartbeat("worker:here", "worker", NOW, later, current_run=run_id)
    assert store.lost(later - timedelta(seconds=30)) == []


def test_processes_silent_for_long_are_forgotten(store: Store) -> None:
    store.heartbeat("worker:old", "worker", NOW, NOW)
    store.heartbeat("worker:new", "worker", NOW, NOW + timedelta(hours=2))
    assert store.forget_processes(NOW + timedelta(hours=1)) == 1
    assert [p.id for p in store.processes()] == ["worker:new"]
