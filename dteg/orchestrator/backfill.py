"""``dteg backfill … --server``: a backfill's partitions as server runs, through the same queue
as scheduled ones (retries, alerts, history), in partition order (one at a time unless
``max_active_runs`` allows more).

Each partition's run is unique on (pipeline, ``backfill:<id>:<partition>``), so submitting
the same range twice queues nothing new; partitions the state store marks done are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dteg.errors import ConfigError
from dteg.orchestrator.catalog import sha256_text
from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.store import Store, new_run_id
from dteg.run.backfill import BackfillPlan, partition_params
from dteg.spec.models import PipelineSpec


@dataclass(frozen=True)
class QueuedBackfill:
    plan: BackfillPlan
    queued: list[RunRow]
    already_queued: int


def queue_backfill(store: Store, spec: PipelineSpec, plan: BackfillPlan, now: datetime
                   ) -> QueuedBackfill:
    row = store.pipeline(spec.name)
    if row is None:
        raise ConfigError(f"the server's store has no pipeline `{spec.name}`",
                          hint="Start `dteg server --pipelines <folder of this file>` (or "
                          "wait until it has read the file), then submit the backfill again.")
    text = Path(spec.file).read_text(encoding="utf-8")
    if sha256_text(text) != row.sha256:
        raise ConfigError(
            f"{spec.file} differs from the revision the server runs ({row.sha256[:12]})",
            hint="Wait a few seconds for the server to re-read the file (or fix the error "
            "`dteg pipelines list` shows), then submit again.")
    queued, existing = [], 0
    for offset, partition in enumerate(plan.pending()):
        rid = new_run_id(now)
        run = store.create_run(
            pipeline=spec.name, dedupe_key=plan.key(partition), sha256=row.sha256,
            kind="backfill", now=now, run_id=rid, max_attempts=spec.body.retries.max_attempts,
            params=partition_params(plan, partition),
            # Partitions start in order: the queue is ordered by not_before.
            not_before=now + timedelta(microseconds=offset))
        if run is None:
            existing += 1
        else:
            queued.append(run)
    return QueuedBackfill(plan, queued, existing)
