"""The watcher's alerts: a run event of a revision → an ``AlertMessage`` → its pipeline's
``monitoring.alerts`` through the ``AlertDispatcher`` (throttled, recorded in the store,
never raising)."""

from __future__ import annotations

from datetime import datetime

from dteg.orchestrator.alerts import AlertDispatcher, AlertMessage, AlertSettings
from dteg.orchestrator.catalog import Revision
from dteg.orchestrator.metrics import OrchestratorMetrics
from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.store import Store

_STATUS = {"queued": "retrying"}


def message_for(revision: Revision, event: str, run: RunRow | None,
                detail: str | None = None) -> AlertMessage:
    redact = revision.spec.redactor
    if run is None:
        return AlertMessage(pipeline=revision.name, event=event, detail=detail)
    return AlertMessage(
        pipeline=revision.name, event=event, run_id=run.id,
        status=_STATUS.get(run.status, run.status),
        error=redact(run.error) if run.error else None, attempt=run.attempt or None,
        rows_read=run.rows_read, rows_loaded=run.rows_loaded,
        rows_dead_lettered=run.rows_dead_lettered, scheduled_at=run.scheduled_at,
        started_at=run.started_at, finished_at=run.finished_at, duration_s=run.seconds,
        detail=detail)


class StoreNotifier:
    """Sends alerts with the store as the delivery history (throttling spans restarts and
    every server on the store)."""

    def __init__(self, store: Store, settings: AlertSettings | None = None,
                 metrics: OrchestratorMetrics | None = None) -> None:
        self.dispatcher = AlertDispatcher(store, settings or AlertSettings.from_env())
        self.metrics = metrics

    def notify(self, revision: Revision, event: str, run: RunRow | None, now: datetime,
               detail: str | None = None) -> None:
        alerts = revision.spec.body.monitoring.alerts
        if not alerts:
            return
        for delivery in self.dispatcher.deliver(alerts, message_for(revision, event, run,
                                                                    detail), now):
            if self.metrics is not None:
                self.metrics.alert(delivery.channel, delivery.status)
