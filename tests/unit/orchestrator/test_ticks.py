"""The catch-up policy: which due ticks run after downtime, for each `catchup`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dteg.orchestrator.ticks import due_ticks, next_tick
from dteg.spec.schedule import ScheduleSpec

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def _decide(catchup: str, down_minutes: int, **extra: object) -> object:
    schedule = ScheduleSpec(cron="* * * * *", catchup=catchup, **extra)  # type: ignore[arg-type]
    now = T0 + timedelta(minutes=down_minutes, seconds=5)
    return due_ticks(schedule, schedule.cron_schedule(), T0, now)


def test_on_time_tick_runs_under_every_policy() -> None:
    for catchup in ("none", "latest", "all"):
        decision = _decide(catchup, 1)
        assert decision.run == (T0 + timedelta(minutes=1),)
        assert decision.late == frozenset()
        assert decision.decided_up_to == T0 + timedelta(minutes=1)


def test_latest_runs_the_newest_missed_tick_once() -> None:
    decision = _decide("latest", 10)
    assert decision.run == (T0 + timedelta(minutes=10),)
    assert decision.skipped == 9


def test_missed_ticks_older_than_a_minute_are_late() -> None:
    schedule = ScheduleSpec(cron="*/5 * * * *", catchup="latest")
    now = T0 + timedelta(minutes=7)
    decision = due_ticks(schedule, schedule.cron_schedule(), T0, now)
    assert decision.run == (T0 + timedelta(minutes=5),)
    assert decision.late == {T0 + timedelta(minutes=5)}


def test_none_skips_missed_ticks_and_runs_only_the_on_time_one() -> None:
    decision = _decide("none", 10)
    assert decision.run == (T0 + timedelta(minutes=10),)
    schedule = ScheduleSpec(cron="*/5 * * * *", catchup="none")
    late = due_ticks(schedule, schedule.cron_schedule(), T0, T0 + timedelta(minutes=7))
    assert late.run == () and late.skipped == 1
    assert late.decided_up_to == T0 + timedelta(minutes=5)


def test_all_runs_each_missed_tick_up_to_the_limit() -> None:
    decision = _decide("all", 10, max_catchup_runs=4)
    assert decision.run == tuple(T0 + timedelta(minutes=m) for m in (7, 8, 9, 10))
    assert decision.skipped == 6
    assert len(decision.late) == 3


def test_paused_decides_ticks_without_running_them() -> None:
    schedule = ScheduleSpec(cron="* * * * *")
    decision = due_ticks(schedule, schedule.cron_schedule(), T0, T0 + timedelta(minutes=3),
                         paused=True)
    assert decision.run == () and decision.skipped == 3
    assert decision.decided_up_to == T0 + timedelta(minutes=3)


def test_nothing_due_before_the_next_tick() -> None:
    schedule = ScheduleSpec(cron="* * * * *")
    decision = due_ticks(schedule, schedule.cron_schedule(), T0, T0 + timedelta(seconds=59))
    assert decision.run == () and decision.decided_up_to is None


def test_start_and_end_dates_bound_the_ticks() -> None:
    schedule = ScheduleSpec(cron="* * * * *", catchup="all", start_date=T0 + timedelta(
        minutes=5), end_date=T0 + timedelta(minutes=7))
    decision = due_ticks(schedule, schedule.cron_schedule(), T0, T0 + timedelta(minutes=20))
    assert decision.run == tuple(T0 + timedelta(minutes=m) for m in (5, 6, 7))
    assert next_tick(schedule.cron_schedule(), schedule, T0 + timedelta(minutes=7)) is None


def test_a_week_of_missed_minutes_is_decided_quickly_and_exactly() -> None:
    schedule = ScheduleSpec(cron="* * * * *", catchup="all", max_catchup_runs=3)
    now = T0 + timedelta(days=7, seconds=1)
    decision = due_ticks(schedule, schedule.cron_schedule(), T0, now)
    assert decision.run == tuple(now.replace(second=0) - timedelta(minutes=m)
                                 for m in (2, 1, 0))
    assert decision.decided_up_to == now.replace(second=0)


def test_time_zone_schedules_tick_in_utc() -> None:
    schedule = ScheduleSpec(cron="0 6 * * *", timezone="Europe/Berlin")
    tick = next_tick(schedule.cron_schedule(), schedule, T0)
    assert tick == datetime(2026, 12, 3, 5, 0, tzinfo=timezone.utc)


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="end_date"):
        ScheduleSpec(cron="* * * * *", start_date=T0, end_date=T0)
