"""The run listener that keeps the catalog: after every successful run it profiles a sample
of each bounded source (null share, distinct count, min/max, PII hits) and records what the
run read and wrote (``dteg.governance.catalog_store``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from dteg.governance.catalog_entry import RunEntry, collect
from dteg.governance.catalog_store import CatalogStore
from dteg.run.events import RunEvent, RunFinished, RunListener
from dteg.spec.models import PipelineSpec

# Rows sampled per source and run: enough for PII classes and a null share, cheap next to
# the run itself.
PROFILE_ROWS = 2_000
_NUMERIC_PREFIXES = ("int", "uint", "float", "double", "decimal", "date", "time", "bool")


def safe_profile(profile: dict[str, Any], protected: set[str]) -> dict[str, Any]:
    """The profile as the catalog keeps it: min/max only for numbers and times, never for
    text or a column that holds (or was declared as) personal data, so the catalog cannot
    leak values."""
    columns = []
    for column in profile.get("columns", []):
        keep = (not column.get("pii") and column["name"] not in protected
                and str(column.get("type", "")).startswith(_NUMERIC_PREFIXES))
        columns.append({k: v for k, v in column.items()
                        if k not in ("suggestion",) and (keep or k not in ("min", "max"))})
    return {**profile, "columns": columns}


def profile_sources(spec: PipelineSpec, rows: int = PROFILE_ROWS) -> dict[str, dict[str, Any]]:
    """step → profile of each bounded source that may be read again (an unbounded one,
    Kafka, is not re-read: that would move nothing but cost a poll; nor is an API whose
    capabilities say a re-read spends quota or runs a job). A source that cannot be sampled
    is left out with a warning: the run has landed, the catalog still records its counts and
    schema."""
    from dteg.governance.protection import protections
    from dteg.quality.profile import profile_step

    protected = {c for sink in spec.sinks() for c in protections(spec, sink.name)}
    found = {}
    for step in spec.sources():
        if step.capabilities.unbounded or not step.capabilities.resample:
            continue
        try:
            found[step.name] = safe_profile(profile_step(spec, step, rows).to_dict(), protected)
        except Exception as exc:  # a profile is an extra: never fail a landed run on it
            sys.stderr.write(f"warning: catalog: could not profile {step.where()}: "
                             f"{spec.redactor(str(exc))}\n")
    return found


class Catalog(RunListener):
    """Records every successful run's datasets in the catalog of the pipeline's folder."""

    def __init__(self, store: CatalogStore, profile_rows: int = PROFILE_ROWS) -> None:
        self.store = store
        self.profile_rows = profile_rows

    def on_event(self, event: RunEvent) -> None:
        if not isinstance(event, RunFinished) or event.status != "succeeded" or (
                event.report is None):
            return
        spec = event.run.spec
        profiles = profile_sources(spec, self.profile_rows) if self.profile_rows else {}
        entry = collect(spec, event.report, profiles)
        known = {d.key: d for d in self.store.datasets()}
        self.store.record_run(entry)
        alert_unprotected(spec, entry, known)


def alert_unprotected(spec: PipelineSpec, entry: RunEntry, known: dict[str, Any]) -> None:
    """Append a ``pii_unprotected`` alert event (``.dteg/alerts.jsonl``, read by the alert
    channels) when a load wrote a column that holds personal data without a mask or
    encryption, and the catalog did not already know it so (one alert per new column)."""
    events = []
    for ds in entry.datasets:
        if ds.role != "write" or ds.dead_letter:
            continue
        before = known.get(ds.key)
        seen = {c["name"] for c in before.columns if c.get("pii") and
                not c.get("protection")} if before else set()
        fresh = [c.name for c in ds.columns if c.pii and not c.protection and
                 c.name not in seen]
        if fresh:
            events.append({"type": "pii_unprotected", "pipeline": spec.name,
                           "run_id": entry.run_id, "at": entry.at, "dataset": ds.key,
                           "step": ds.step, "columns": fresh,
                           "classes": {c.name: c.pii for c in ds.columns if c.name in fresh},
                           "hint": "mask or encrypt them (security.data_masking / "
                                   "encryption), or set access_level: restricted"})
    if not events:
        return
    alerts = spec.state_dir / "alerts.jsonl"
    alerts.parent.mkdir(parents=True, exist_ok=True)
    with alerts.open("a", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps(event) + "\n")
