"""Retention: delete the rows of each load that are older than its ``retention:`` allows,
in place, in the sinks whose targets support it (the ``row_store`` capability: DuckDB,
PostgreSQL, MySQL); report every load it could not clean and why (a file or a topic has no
rows to delete one by one: per-subject keys or partitions are the tools there).

Used by ``dteg privacy retention`` and by dteg server's daily retention job. A failure is
appended to ``.dteg/alerts.jsonl`` (type ``retention_failed``) for the alert channels."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dteg.components.registry import import_ref
from dteg.components.rows import RowStore
from dteg.errors import DtegError, SpecError
from dteg.spec.durations import format_duration
from dteg.spec.models import PipelineSpec, StepSpec


@dataclass
class RetentionOutcome:
    """What the job did to one load."""

    pipeline: str
    step: str
    target: str
    column: str
    keep: str
    cutoff: str
    status: str  # deleted | unsupported | failed
    deleted: int = 0
    message: str = ""

    def render(self) -> str:
        head = f"  {self.pipeline}.{self.step} ({self.target}): "
        if self.status == "deleted":
            return (head + f"deleted {self.deleted:,} row{'s' if self.deleted != 1 else ''} "
                    f"with {self.column} before {self.cutoff} (keep {self.keep})")
        return head + ("NOT ENFORCED: " if self.status == "unsupported" else "FAILED: ") + \
            self.message


def check_retention(spec: PipelineSpec) -> None:
    """Every load ``retention.sinks`` names exists (a typo would keep rows forever)."""
    retention = spec.body.retention
    if retention is None:
        return
    loads = {s.name for s in spec.sinks()}
    for name in retention.sinks:
        if name not in loads:
            raise SpecError(f"`retention.sinks` names `{name}`, which is not a load step",
                            location=spec.source_map.at(("pipeline", "retention", "sinks",
                                                         name)),
                            hint=f"Name one of the loads: {', '.join(sorted(loads))}.")


def row_store(spec: PipelineSpec, step: StepSpec) -> RowStore | None:
    """The rows of ``step``'s target, when its sink can delete them in place."""
    ref = step.capabilities.row_store
    if ref is None:
        return None
    factory = import_ref(ref, extra=step.capabilities.extra)
    store: RowStore = factory(step.validated(), spec.base_dir, step.name)
    return store


def enforce(spec: PipelineSpec, now: dt.datetime | None = None) -> list[RetentionOutcome]:
    """Apply the pipeline's retention to each of its loads; one outcome per load that has a
    limit."""
    check_retention(spec)
    retention = spec.body.retention
    if retention is None:
        return []
    moment = now or dt.datetime.now(dt.timezone.utc)
    outcomes = []
    for step in spec.sinks():
        rule = retention.for_sink(step.name)
        if rule is None:
            continue
        column, keep = rule
        cutoff = moment - keep
        outcome = RetentionOutcome(
            pipeline=spec.name, step=step.name, target=step.component or step.type,
            column=column, keep=format_duration(keep),
            cutoff=cutoff.isoformat(timespec="seconds"), status="deleted")
        try:
            try:
                store = row_store(spec, step)
            except DtegError as exc:  # this target's shape has no rows to delete in place
                store, outcome.message = None, spec.redactor(str(exc))
            if store is None:
                outcome.status = "unsupported"
                outcome.message = outcome.message or (
                    f"`{outcome.target}` cannot delete rows in place; expire its files or "
                    "topic by age at the storage (lifecycle rules, topic retention.ms)")
            else:
                outcome.target = store.description
                try:
                    if store.columns() and column not in store.columns():
                        outcome.status = "failed"
                        outcome.message = (f"the time column `{column}` is not in "
                                           f"{store.description}; fix `retention.column`")
                    elif store.columns():
                        outcome.deleted = store.delete_older(column, cutoff)
                finally:
                    store.close()
        except DtegError as exc:
            outcome.status, outcome.message = "failed", spec.redactor(exc.render())
        except Exception as exc:  # a driver error we have no words for: still report it
            outcome.status = "failed"
            outcome.message = spec.redactor(f"{type(exc).__name__}: {exc}")
        outcomes.append(outcome)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        write_alert(spec.state_dir / "alerts.jsonl", failed)
    return outcomes


def write_alert(alerts_file: Path, failed: list[RetentionOutcome]) -> None:
    """Append one ``retention_failed`` alert event per load the job could not clean."""
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with alerts_file.open("a", encoding="utf-8") as fh:
        for outcome in failed:
            event: dict[str, Any] = {"type": "retention_failed", "at": at, **asdict(outcome)}
            fh.write(json.dumps(event) + "\n")
