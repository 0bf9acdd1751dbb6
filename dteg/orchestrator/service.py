"""The orchestrator's main loop, shared by ``dteg server`` (with the embedded executor) and
``dteg scheduler`` (dispatching to Celery workers).

Each pass: re-read changed pipeline files (every ``reload_every``), queue due ticks, hand
ready runs to the executor, take back tasks no worker claimed, react to runs that ended. It
sleeps until the next tick is due or 0.2 s pass, whichever is first, so a tick is dispatched
well within a second of its time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.executors import Executor
from dteg.orchestrator.governance_jobs import GovernanceJobs
from dteg.orchestrator.metrics import OrchestratorMetrics
from dteg.orchestrator.scheduler import Dispatcher, Scheduler
from dteg.orchestrator.settings import OrchestratorSettings
from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.store import Store
from dteg.orchestrator.watcher import Notifier, Watcher
from dteg.orchestrator.worker import Heartbeat

POLL_S = 0.2


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Orchestrator:
    settings: OrchestratorSettings
    store: Store
    executor: Executor
    notifier: Notifier | None = None
    metrics: OrchestratorMetrics | None = None
    log: Callable[[str], None] = print
    clock: Callable[[], datetime] = utcnow
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.settings.pipelines_dir)
        self.scheduler = Scheduler(self.store, self.catalog)
        self.dispatcher = Dispatcher(self.store, self.catalog, self.executor)
        self.watcher = Watcher(self.store, self.catalog, self.notifier, self.metrics,
                               self.settings.heartbeat_timeout, self.settings.keep_runs,
                               self.log, GovernanceJobs(self.catalog,
                                                        self.settings.retention_every,
                                                        self.log))
        self.heartbeat = Heartbeat(self.store, "scheduler")
        self._last_reload: datetime | None = None
        self._last_gauges: datetime | None = None
        self.last_pass: datetime | None = None
        self.passes = 0

    def reload(self, now: datetime) -> None:
        changes = self.catalog.refresh()
        self.scheduler.sync(changes, now)
        for revision in changes.added:
            self.log(f"serving {revision.name} ({revision.path.name}, "
                     f"{revision.schedule or 'no schedule'}, sha256 {revision.sha256[:12]})")
        for revision in changes.changed:
            self.log(f"reloaded {revision.name}: now sha256 {revision.sha256[:12]}")
        for name in changes.removed:
            self.log(f"{name}: its file is gone; it is no longer scheduled")
        for problem in changes.problems:
            keeps = (f" (revision {self.catalog.revisions[problem.pipeline].sha256[:12]} "
                     "keeps running)") if problem.pipeline in self.catalog.revisions else ""
            self.log(f"error: {problem.error}{keeps}")
        self._last_reload = now

    def step(self) -> datetime:
        """One pass; returns when the next one should start."""
        now = self.clock()
        if self._last_reload is None or now - self._last_reload >= self.settings.reload_every:
            self.reload(now)
        created = self.scheduler.tick(now)
        self.dispatcher.take_back_unclaimed(now)
        sent = self.dispatcher.dispatch(now)
        self.watcher.observe_started(self.store.runs(status=("running",), limit=500))
        self.watcher.step(now)
        if self.metrics is not None:
            self._measure(now, created, sent)
        self.last_pass = now
        self.passes += 1
        after = self.clock()
        return self.scheduler.next_wake(after, timedelta(seconds=POLL_S))

    def _measure(self, now: datetime, created: list[RunRow], sent: list[RunRow]) -> None:
        metrics = self.metrics
        assert metrics is not None
        metrics.scheduler_heartbeat(now)
        for run in created:
            metrics.ticks(run.pipeline, 1)
        for run in sent:
            if run.scheduled_at is not None and run.attempt == 1:
                metrics.dispatched(run.pipeline, (now - run.scheduled_at).total_seconds())
        if self._last_gauges is None or now - self._last_gauges >= timedelta(seconds=1):
            self._last_gauges = now
            metrics.set_queue_depth(self.store.count_ready(now))
            alive = now - self.settings.heartbeat_timeout
            metrics.set_live_workers(len(self.store.processes("worker", alive_after=alive)))

    def remember_successes(self) -> None:
        """Last success per pipeline from the store (the freshness alert survives a
        restart)."""
        if self.metrics is None:
            return
        for row in self.store.pipelines():
            if row.last_success is not None:
                self.metrics.last_success(row.name, row.last_success)

    def healthy(self) -> bool:
        """The loop made a pass in the last 10 s."""
        return self.last_pass is not None and (
            self.clock() - self.last_pass < timedelta(seconds=10))

    def serve(self) -> None:
        """Run until ``stopping`` is set."""
        self.heartbeat.start()
        self.remember_successes()
        try:
            while not self.stopping.is_set():
                wake = self.step()
                delay = (wake - self.clock()).total_seconds()
                if delay > 0:
                    self.stopping.wait(delay)
        finally:
            self.heartbeat.stop()
            self.executor.close()

