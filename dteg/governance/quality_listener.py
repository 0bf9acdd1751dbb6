"""The run listener that keeps the quality history (``dteg.governance.quality_store``): after
every run its row counts and rule results. A run that failed before Beam's counters were read
(a `fail` rule aborting the run is one) is kept as failed with no counts: the dashboard shows
the failure, its error is in the run record."""

from __future__ import annotations

import datetime as dt

from dteg.governance.quality_store import QualityRun, QualityStore, quality_run
from dteg.run.events import RunEvent, RunFinished, RunListener


class QualityHistory(RunListener):
    """Records each counted run's quality in the store of the pipeline's folder."""

    def __init__(self, store: QualityStore) -> None:
        self.store = store

    def on_event(self, event: RunEvent) -> None:
        if not isinstance(event, RunFinished):
            return
        finished = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        run = event.run
        if event.report is None:
            self.store.record([QualityRun(run.run_id, run.pipeline, finished, event.status,
                                          0, 0, 0)])
            return
        self.store.record([quality_run(run.pipeline, run.run_id, event.status, event.report,
                                       finished)])
