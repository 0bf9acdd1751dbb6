"""The scheduler and dispatcher with a recording executor and a chosen clock: restarts, two
schedulers, cron edits, pauses, max_active_runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.scheduler import Dispatcher, Scheduler
from dteg.orchestrator.store.store import AttemptResult, Store
from dteg.orchestrator.task import RunTask
from tests.unit.orchestrator.conftest import write_pipeline

T0 = datetime(2026, 12, 2, 12, 0, 30, tzinfo=timezone.utc)


class Recording:
    claim_timeout_s = 30.0

    def __init__(self, slots: int = 100) -> None:
        self.tasks: list[RunTask] = []
        self.slots = slots

    def free_slots(self) -> int:
        return self.slots - len(self.tasks)

    def submit(self, task: RunTask) -> None:
        self.tasks.append(task)

    def close(self) -> None:
        pass


def _scheduler(folder: Path, store: Store, now: datetime) -> Scheduler:
    catalog = Catalog(folder)
    scheduler = Scheduler(store, catalog)
    scheduler.sync(catalog.refresh(), now)
    return scheduler


def _ticks(store: Store, name: str) -> list[datetime]:
    return sorted(r.scheduled_at for r in store.runs(name, limit=1000) if r.scheduled_at)


def test_every_minute_one_run_per_tick(tmp_path: Path, store: Store) -> None:
    write_pipeline(tmp_path, "a", '  schedule: "* * * * *"\n')
    scheduler = _scheduler(tmp_path, store, T0)
    assert scheduler.tick(T0) == []  # first seen: ticks start after now
    for seconds in range(0, 200, 7):
        scheduler.tick(T0 + timedelta(seconds=seconds))
    minute = T0.replace(second=0)
    assert _ticks(store, "a") == [minute + timedelta(minutes=m) for m in (1, 2, 3)]
    assert {r.kind for r in store.runs("a")} == {"schedule"}


def test_a_restarted_scheduler_runs_the_missed_tick_once(tmp_path: Path, store: Store) -> None:
    write_pipeline(tmp_path, "a", '  schedule: "* * * * *"\n')
    _scheduler(tmp_path, store, T0).tick(T0)
    # Down for five minutes; a new scheduler on the same store (catchup: latest).
    later = T0 + timedelta(minutes=5)
    restarted = _scheduler(tmp_path, store, later)
    restarted.tick(later)
    restarted.tick(later)
    minute = T0.replace(second=0)
    assert _ticks(store, "a") == [minute + timedelta(minutes=5)]
    assert [r.kind for r in store.runs("a")] == ["schedule"]  # 30 s late: on time


def test_two_schedulers_on_one_store_never_double_a_tick(tmp_path: Path, store: Store) -> None:
    for name in ("a", "b", "c"):
        write_pipeline(tmp_path, name, '  schedule: {cron: "* * * * *", catchup: all}\n')
    first, second = _scheduler(tmp_path, store, T0), _scheduler(tmp_path, store, T0)
    first.tick(T0)
    second.tick(T0)
    for seconds in range(0, 300, 13):
        now = T0 + timedelta(seconds=seconds)
        (first if seconds % 2 else second).tick(now)
        (second if seconds % 2 else first).tick(now)
    minute = T0.replace(second=0)
    for name in ("a", "b", "c"):
        assert _ticks(store, name) == [minute + timedelta(minutes=m) for m in range(1, 6)]


def test_a_scheduler_that_stopped_between_insert_and_advance_adds_nothing(
        tmp_path: Path, store: Store) -> None:
    write_pipeline(tmp_path, "a", '  schedule: "* * * * *"\n')
    scheduler = _scheduler(tmp_path, store, T0)
    scheduler.tick(T0)
    tick_time = T0 + timedelta(seconds=40)
    scheduler.tick(tick_time)
    # As if it died before advancing: last_tick moved back.
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE dteg_pipelines SET last_tick = ?",
                                   (T0.replace(tzinfo=None).isoformat(" "),))
    _scheduler(tmp_path, store, tick_time).tick(tick_time)
    assert len(_ticks(store, "a")) == 1


def test_editing_the_cron_takes_effect_from_the_last_decided_tick(
        tmp_path: Path, store: Store) -> None:
    path = write_pipeline(tmp_path, "a", '  schedule: "* * * * *"\n')
    catalog = Catalog(tmp_path)
    scheduler = Scheduler(store, catalog)
    scheduler.sync(catalog.refresh(), T0)
    scheduler.tick(T0)
    scheduler.tick(T0 + timedelta(minutes=1))
    path.write_text(path.read_text().replace('"* * * * *"', '"*/10 * * * *"'))
    scheduler.sync(catalog.refresh(), T0 + timedelta(minutes=1))
    for minutes in range(2, 12):
        scheduler.tick(T0 + timedelta(minutes=minutes))
    minute = T0.replace(second=0)
    assert _ticks(store, "a") == [minute + timedelta(minutes=1), minute.replace(minute=10)]


def test_a_paused_pipeline_skips_its_ticks_and_resumes_without_catching_up(
        tmp_path: Path, store: Store) -> None:
    write_pipeline(tmp_path, "a", '  schedule: "* * * * *"\n')
    scheduler = _scheduler(tmp_path, store, T0)
    scheduler.tick(T0)
    store.set_paused("a", True, T0)
    scheduler.tick(T0 + timedelta(minutes=3))
    assert _ticks(store, "a") == []
    store.set_paused("a", False, T0)
    scheduler.tick(T0 + timedelta(minutes=4))
    assert _ticks(store, "a") == [T0.replace(second=0) + timedelta(minutes=4)]


def test_max_active_runs_holds_the_next_run_until_the_first_ends(
        tmp_path: Path, store: Store) -> None:
    write_pipeline(tmp_path, "a", '  schedule: {cron: "* * * * *", catchup: all}\n')
    scheduler = _scheduler(tmp_path, store, T0)
    scheduler.tick(T0)
    scheduler.tick(T0 + timedelta(minutes=3))
    executor = Recording()
    dispatcher = Dispatcher(store, scheduler.catalog, executor)
    now = T0 + timedelta(minutes=3)
    assert len(dispatcher.dispatch(now)) == 1
    assert len(dispatcher.dispatch(now)) == 0
    task = executor.tasks[0]
    store.claim(task.run_id, task.attempt, "w", now)
    store.finish_attempt(task.run_id, task.attempt, AttemptResult("succeeded"), now)
    assert len(dispatcher.dispatch(now)) == 1
    first, second = executor.tasks
    assert first.scheduled_at is not None and second.scheduled_at is not None
    assert first.scheduled_at < second.scheduled_at  # oldest first


def test_a_task_carries_the_revision_it_runs(tmp_path: Path, store: Store) -> None:
    path = write_pipeline(tmp_path, "a", '  schedule: "* * * * *"\n')
    scheduler = _scheduler(tmp_path, store, T0)
    scheduler.tick(T0)
    scheduler.tick(T0 + timedelta(minutes=1))
    executor = Recording()
    Dispatcher(store, scheduler.catalog, executor).dispatch(T0 + timedelta(minutes=1))
    task = executor.tasks[0]
    assert task.yaml_text == path.read_text() and task.path == str(path.resolve())
    assert RunTask.from_json(task.to_json()) == task


def test_a_scheduler_that_lost_the_race_waits_for_the_next_tick(
        tmp_path: Path, store: Store) -> None:
    write_pipeline(tmp_path, "a", '  schedule: "* * * * *"\n')
    first, second = _scheduler(tmp_path, store, T0), _scheduler(tmp_path, store, T0)
    first.tick(T0)
    second.tick(T0)
    due = T0 + timedelta(seconds=40)
    first.tick(due)
    second.tick(due)  # the tick is taken: nothing to do, and it knows when the next one is
    assert second._next["a"] == T0.replace(second=0) + timedelta(minutes=2)
    assert len(_ticks(store, "a")) == 1
