"""What the orchestrator does after a run changed: it gives up on lost workers, then for each
attempt that ended sends the alerts, updates the metrics and starts the pipelines triggered
after it; it also watches SLAs (a run going on too long) and freshness (no success for too
long), and purges history older than the retention.

Every reaction is taken by one watcher only (a guarded store update), so two servers on one
store never send an alert twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from dteg.orchestrator.catalog import Catalog, Revision
from dteg.orchestrator.governance_jobs import GovernanceJobs
from dteg.orchestrator.metrics import OrchestratorMetrics
from dteg.orchestrator.scheduler import queue_run
from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.store import AttemptResult, Store
from dteg.orchestrator.worker import lost_attempt_retry

# SLAs, freshness and retention are checked this often (lost workers and ended runs: every
# pass).
SLOW_CHECKS_EVERY = timedelta(seconds=5)


class Notifier(Protocol):
    """Sends ``event`` (failure, retry, success, recovered, sla, freshness, quality,
    schema_drift) about ``run`` to the alerts of ``revision`` that ask for it."""

    def notify(self, revision: Revision, event: str, run: RunRow | None,
               now: datetime, detail: str | None = None) -> None: ...


@dataclass
class Watcher:
    store: Store
    catalog: Catalog
    notifier: Notifier | None = None
    metrics: OrchestratorMetrics | None = None
    heartbeat_timeout: timedelta = timedelta(seconds=30)
    keep_runs: timedelta | None = None
    log: Callable[[str], None] = print
    governance: GovernanceJobs | None = None
    _last_purge: datetime | None = None
    _last_slow: datetime | None = None
    _started_seen: set[str] = field(default_factory=set)

    def step(self, now: datetime) -> None:
        self.give_up_lost(now)
        changed = self.store.unhandled(limit=2000)
        taken = self.store.mark_handled_many(changed)
        for run in changed:
            if run.id in taken:
                self._ended(run, now)
        if self._last_slow is None or now - self._last_slow >= SLOW_CHECKS_EVERY:
            self._last_slow = now
            self._sla(now)
            self._freshness(now)
            self._purge(now)
            if self.governance is not None:
                self.governance.step(now, self._notify)

    def observe_started(self, runs: list[RunRow]) -> None:
        """Runs that started since the last look (for the schedule-lag metric)."""
        if self.metrics is None:
            return
        for run in runs:
            if run.id in self._started_seen or run.started_at is None:
                continue
            self._started_seen.add(run.id)
            lag = ((run.started_at - run.scheduled_at).total_seconds()
                   if run.scheduled_at else None)
            self.metrics.run_started(run.pipeline, lag)
        if len(self._started_seen) > 10_000:
            self._started_seen.clear()

    def give_up_lost(self, now: datetime) -> list[RunRow]:
        """Runs whose worker stopped beating: the attempt is marked lost and the run retried
        by its policy (the engine settles what the dead attempt left: nothing is lost or
        doubled in merge and replace sinks)."""
        settled = []
        for run in self.store.lost(now - self.heartbeat_timeout):
            revision = self.catalog.get(run.pipeline)
            policy = revision.retries if revision else None
            when = lost_attempt_retry(policy, run, now) if policy else None
            error = (f"worker {run.worker} stopped (no heartbeat for "
                     f"{self.heartbeat_timeout.total_seconds():.0f} s) during attempt "
                     f"{run.attempt}")
            result = self.store.finish_attempt(run.id, run.attempt, AttemptResult(
                "lost", error=error, retriable=True), now, retry_at=when)
            if result is not None:
                self.log(f"run {run.id} of {run.pipeline}: {error}; "
                         + (f"retrying at {when:%H:%M:%S} UTC" if when else "no retries left"))
                settled.append(result)
        return settled

    def _ended(self, run: RunRow, now: datetime) -> None:
        revision = self.catalog.get(run.pipeline)
        if self.metrics is not None:
            if run.status == "queued":
                self.metrics.retries(run.pipeline)
            else:
                self.metrics.run_finished(run.pipeline, run.status, run.seconds or 0.0,
                                          run.rows_read or 0, run.rows_loaded or 0,
                                          run.rows_dead_lettered or 0)
                if run.status == "succeeded" and run.finished_at is not None:
                    self.metrics.last_success(run.pipeline, run.finished_at)
        if revision is None:
            return
        listened = {event for alert in revision.spec.body.monitoring.alerts
                    for event in alert.on}
        if listened and self.notifier is not None:
            for event in self._events(run, "recovered" in listened):
                if event in listened:
                    self._notify(revision, event, run, now)
        if run.status in ("succeeded", "failed"):
            self._trigger_downstream(run, now)

    def _events(self, run: RunRow, recovered: bool = True) -> list[str]:
        summary = run.summary or {}
        if run.status == "queued":
            return ["retry"]
        if run.status == "cancelled":
            return []
        events = []
        if run.status == "failed":
            events.append("failure")
        else:
            events.append("success")
            if recovered:
                previous = [r for r in self.store.runs(run.pipeline, ("succeeded", "failed"),
                                                       2) if r.id != run.id]
                if previous and previous[0].status == "failed":
                    events.append("recovered")
        # Rows failed validation rules, or a quality gate (max_invalid_ratio) failed the run.
        steps = (summary.get("quality") or {}).get("steps") or []
        gate = bool(run.error and "max_invalid_ratio" in run.error)
        if gate or any(step.get("invalid") for step in steps):
            events.append("quality")
        if summary.get("schema_drift"):
            events.append("schema_drift")
        return events

    def _notify(self, revision: Revision, event: str, run: RunRow | None, now: datetime,
                detail: str | None = None) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.notify(revision, event, run, now, detail)
        except Exception as exc:  # an alert channel never fails anything
            self.log(f"warning: alert `{event}` of {revision.name} could not be sent: {exc}")

    def _trigger_downstream(self, run: RunRow, now: datetime) -> None:
        for revision in self.catalog.downstream(run.pipeline):
            trigger = revision.spec.body.trigger
            if trigger is None:
                continue
            if trigger.on == "success" and run.status != "succeeded":
                continue
            queue_run(self.store, revision, kind="trigger", now=now,
                      dedupe_key=f"after:{run.id}", triggered_by=run.id)

    def _sla(self, now: datetime) -> None:
        for run in self.store.runs(status=("running",), limit=1000):
            revision = self.catalog.get(run.pipeline)
            sla = revision.spec.body.monitoring.sla if revision else None
            if (revision is None or sla is None or run.started_at is None
                    or run.sla_alerted or now - run.started_at <= sla.max_duration):
                continue
            if self.store.mark_sla_alerted(run.id):
                self._notify(revision, "sla", run, now, detail=(
                    f"still running after {(now - run.started_at).total_seconds():.0f} s "
                    f"(sla max_duration {sla.max_duration.total_seconds():.0f} s)"))

    def _freshness(self, now: datetime) -> None:
        rows = {row.name: row for row in self.store.pipelines()}
        for name, revision in self.catalog.revisions.items():
            freshness = revision.spec.body.monitoring.freshness
            row = rows.get(name)
            if freshness is None or row is None:
                continue
            since = row.last_success or row.updated_at
            stale = now - since > freshness.max_age
            alerted_recently = (row.freshness_alerted is not None
                                and row.freshness_alerted > since)
            if stale and not alerted_recently:
                self.store.set_freshness_alerted(name, now)
                self._notify(revision, "freshness", None, now, detail=(
                    f"no successful run since {since:%Y-%m-%d %H:%M} UTC (freshness max_age "
                    f"{freshness.max_age.total_seconds():.0f} s)"))

    def _purge(self, now: datetime) -> None:
        if self.keep_runs is None:
            return
        if self._last_purge and now - self._last_purge < timedelta(hours=1):
            return
        self._last_purge = now
        self.store.forget_processes(now - max(self.heartbeat_timeout * 10,
                                              timedelta(hours=1)))
        deleted = self.store.purge(now - self.keep_runs)
        if deleted:
            self.log(f"purged {deleted} run(s) finished before {now - self.keep_runs:%Y-%m-%d}")
