"""Which schedule ticks to run now: the catch-up policy, as a pure function.

The scheduler remembers the newest tick it decided on (``last_tick``, in the store). Every
tick after it and at or before now is *due*. A due tick within ``ON_TIME`` of now is on time;
older ones were missed (the server was down). A paused pipeline's due ticks are decided as
skipped. ``catchup`` then says which due ticks run:

* ``none``: only the on-time tick;
* ``latest`` (default): the newest due tick, once, on time or not;
* ``all``: every due tick, at most ``max_catchup_runs`` (the newest ones).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dteg.spec.schedule import CronSchedule, ScheduleSpec

ON_TIME = timedelta(seconds=60)
# Enumerating more missed ticks than this (a minutely schedule down for a week) jumps ahead.
_MAX_ENUMERATED = 20_000


@dataclass(frozen=True)
class TickDecision:
    run: tuple[datetime, ...]  # UTC, oldest first
    late: frozenset[datetime]  # the ones of ``run`` that were missed (catch-up runs)
    decided_up_to: datetime | None  # the newest due tick (None: nothing was due)
    skipped: int  # due ticks that do not run


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def due_ticks(schedule: ScheduleSpec, cron: CronSchedule, last_tick: datetime,
              now: datetime, paused: bool = False) -> TickDecision:
    """The ticks after ``last_tick`` up to ``now`` and which of them to run."""
    start, end = schedule.bound("start"), schedule.bound("end")
    cursor = last_tick
    if start is not None and cursor < start - timedelta(microseconds=1):
        cursor = start - timedelta(microseconds=1)
    keep = 1 if schedule.catchup != "all" else schedule.max_catchup_runs
    newest: deque[datetime] = deque(maxlen=keep)
    on_time: list[datetime] = []
    count = 0
    first: datetime | None = None
    while True:
        tick = cron.next_after(cursor)
        if tick > now or (end is not None and tick > end):
            break
        count += 1
        first = first or tick
        newest.append(_utc(tick))
        if now - tick <= ON_TIME:
            on_time.append(_utc(tick))
        cursor = tick
        if count == _MAX_ENUMERATED:
            # Jump to a little before the newest ticks we may keep.
            spacing = (tick - first) / max(count - 1, 1)
            jump = now - spacing * (keep + 2) - ON_TIME
            if jump > cursor:
                cursor = jump
    if count == 0:
        return TickDecision((), frozenset(), None, 0)
    decided = newest[-1]
    if paused:
        return TickDecision((), frozenset(), decided, count)
    chosen = tuple(on_time) if schedule.catchup == "none" else tuple(newest)
    late = frozenset(t for t in chosen if now - t > ON_TIME)
    return TickDecision(chosen, late, decided, count - len(chosen))


def next_tick(cron: CronSchedule, schedule: ScheduleSpec, after: datetime) -> datetime | None:
    """The first tick after ``after`` (None past ``end_date``)."""
    start = schedule.bound("start")
    if start is not None and after < start:
        after = start - timedelta(microseconds=1)
    tick = cron.next_after(after)
    end = schedule.bound("end")
    return None if end is not None and tick > end else _utc(tick)
