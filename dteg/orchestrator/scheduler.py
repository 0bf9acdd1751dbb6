"""The scheduler: turns schedule ticks into queued runs, and queued runs into dispatched
tasks.

``Scheduler.tick(now)`` creates one run per due tick (``dteg.orchestrator.ticks`` decides
which), unique on (pipeline, tick) in the store, then moves the pipeline's ``last_tick``. It
keeps no state the store does not have: a scheduler killed between the two steps, restarted,
or running next to a second scheduler creates the same runs again, which the unique key
refuses — no tick is doubled or skipped.

``Dispatcher.dispatch(now)`` hands queued runs whose time has come to the executor, oldest
first, at most ``max_active_runs`` per pipeline at once and no more than the executor has room
for; each dispatch is a guarded store update, so two dispatchers never send one run twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dteg.orchestrator.catalog import Catalog, Changes, Revision
from dteg.orchestrator.executors import Executor
from dteg.orchestrator.store.records import PipelineRow, RunRow
from dteg.orchestrator.store.store import Store
from dteg.orchestrator.task import RunTask
from dteg.orchestrator.ticks import due_ticks, next_tick


def tick_key(tick: datetime) -> str:
    return f"tick:{tick.isoformat()}"


@dataclass
class Scheduler:
    store: Store
    catalog: Catalog
    # Next tick per pipeline, so a loop over 1,000 pipelines does not re-evaluate every cron.
    _next: dict[str, datetime | None] = field(default_factory=dict)
    _sha: dict[str, str] = field(default_factory=dict)

    def sync(self, changes: Changes, now: datetime) -> None:
        """Record new and changed revisions (and files that stopped compiling) in the
        store."""
        for revision in [*changes.added, *changes.changed]:
            schedule = revision.schedule
            self.store.save_pipeline(revision.name, str(revision.path), revision.sha256,
                                     revision.yaml_text, str(schedule) if schedule else None,
                                     now)
            self._next.pop(revision.name, None)
        for problem in changes.problems:
            if problem.pipeline:
                self.store.pipeline_error(problem.pipeline, problem.error, problem.sha256,
                                          now)
        for name in changes.removed:
            self._next.pop(name, None)

    def tick(self, now: datetime) -> list[RunRow]:
        """Queue the runs of every tick due at ``now`` (one transaction for all of them)."""
        revisions = self.catalog.revisions
        known = all(name in self._next and self._sha.get(name) == revision.sha256
                    for name, revision in revisions.items() if revision.schedule is not None)
        if known and not any(upcoming is not None and upcoming <= now
                             for upcoming in self._next.values()):
            return []  # nothing is due: no need to read the store
        rows = {row.name: row for row in self.store.pipelines()}
        first_seen = self._first_seen(rows, now)
        if first_seen:
            # The store remembers where each new pipeline's ticks start, so a restart does
            # not move the start.
            self.store.advance_ticks(first_seen)
            rows = {row.name: row for row in self.store.pipelines()}
        new: list[dict[str, object]] = []
        decided: dict[str, datetime] = {}
        for name, revision in revisions.items():
            schedule, cron, row = revision.schedule, revision.cron_schedule, rows.get(name)
            if schedule is None or cron is None or row is None or row.last_tick is None:
                continue
            if self._sha.get(name) != revision.sha256:
                self._sha[name] = revision.sha256
                self._next.pop(name, None)
            if name not in self._next:
                self._next[name] = next_tick(cron, schedule, row.last_tick)
            upcoming = self._next[name]
            if upcoming is None or upcoming > now:
                continue
            decision = due_ticks(schedule, cron, row.last_tick, now,
                                 paused=row.paused or schedule.paused)
            new.extend(dict(
                pipeline=name, dedupe_key=tick_key(moment), sha256=revision.sha256,
                kind="catchup" if moment in decision.late else "schedule",
                scheduled_at=moment, max_attempts=revision.retries.max_attempts)
                for moment in decision.run)
            if decision.decided_up_to is not None:
                decided[name] = decision.decided_up_to
            # From the newest decided tick — ours, or another scheduler's that got there first.
            self._next[name] = next_tick(cron, schedule,
                                         decision.decided_up_to or row.last_tick)
        if not new and not decided:
            return []
        return self.store.create_runs(new, now, ticks=decided)

    def _first_seen(self, rows: dict[str, PipelineRow], now: datetime) -> dict[str, datetime]:
        """Where the ticks of pipelines new to the store start: now (`catchup: all` with a
        `start_date`: then)."""
        starts = {}
        for name, revision in self.catalog.revisions.items():
            schedule, row = revision.schedule, rows.get(name)
            if schedule is None or row is None or row.last_tick is not None:
                continue
            start = now
            if schedule.catchup == "all" and schedule.start_date is not None:
                start = (schedule.bound("start") or now) - timedelta(microseconds=1)
            starts[name] = start
        return starts

    def next_wake(self, now: datetime, longest: timedelta) -> datetime:
        """When the next tick of any pipeline is due (at most ``longest`` from now)."""
        soonest = now + longest
        for upcoming in self._next.values():
            if upcoming is not None and upcoming < soonest:
                soonest = upcoming
        return max(soonest, now)


def queue_run(store: Store, revision: Revision, *, kind: str, now: datetime,
              dedupe_key: str | None = None, params: dict[str, object] | None = None,
              triggered_by: str | None = None, run_id: str | None = None) -> RunRow | None:
    """A manual, backfill or triggered run of ``revision``, through the same queue as
    scheduled ones (None: a run with this ``dedupe_key`` exists)."""
    from dteg.orchestrator.store.store import new_run_id

    rid = run_id or new_run_id(now)
    return store.create_run(pipeline=revision.name, dedupe_key=dedupe_key or rid,
                            sha256=revision.sha256, kind=kind, now=now, run_id=rid,
                            max_attempts=revision.retries.max_attempts, params=params,
                            triggered_by=triggered_by)


@dataclass
class Dispatcher:
    store: Store
    catalog: Catalog
    executor: Executor
    # Marks the runs this dispatcher sent until a worker claims them.
    token: str = field(default_factory=lambda: f"dispatched:{uuid.uuid4().hex[:12]}")

    def task_for(self, run: RunRow) -> RunTask | None:
        revision = self.catalog.get(run.pipeline)
        if revision is None:
            return None
        return RunTask(
            run_id=run.id, attempt=run.attempt, pipeline=run.pipeline,
            path=str(revision.path), yaml_text=revision.yaml_text, sha256=revision.sha256,
            kind=run.kind, max_attempts=run.max_attempts,
            scheduled_at=run.scheduled_at.isoformat() if run.scheduled_at else None,
            params=run.params)

    def dispatch(self, now: datetime) -> list[RunRow]:
        """Hand ready runs to the executor: chosen oldest first within ``max_active_runs``
        and the executor's room, marked dispatched in one transaction, then submitted."""
        room = self.executor.free_slots()
        if room <= 0:
            return []
        active = self.store.active_counts()
        chosen: dict[str, str] = {}
        for run in self.store.ready(now, limit=min(max(room * 4, 50), 10_000)):
            if len(chosen) >= room:
                break
            revision = self.catalog.get(run.pipeline)
            if revision is None:
                continue  # its file is gone or never compiled here; it waits
            if active.get(run.pipeline, 0) >= revision.max_active_runs:
                continue
            chosen[run.id] = revision.sha256
            active[run.pipeline] = active.get(run.pipeline, 0) + 1
        sent = []
        for dispatched in self.store.dispatch_many(chosen, now, self.token):
            task = self.task_for(dispatched)
            if task is None:  # the file went away in between: it runs when it is back
                self.store.take_back(dispatched.id, dispatched.attempt)
                continue
            self.executor.submit(task)
            sent.append(dispatched)
        return sent

    def take_back_unclaimed(self, now: datetime) -> int:
        before = now - timedelta(seconds=self.executor.claim_timeout_s)
        return sum(self.store.take_back(run.id, run.attempt)
                   for run in self.store.unclaimed(before))
