"""What the compliance page shows, read without changing anything: the PII inventory and
record of processing (the same content as ``dteg privacy report``), whether each load's
``retention:`` can be enforced and why not, and the receipts of recent data-subject requests
from the audit log (counts and places, never the subject's value)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dteg.auth.audit import AuditEntry
from dteg.errors import DtegError
from dteg.governance.catalog_entry import dataset_key
from dteg.governance.datasets import dataset_of
from dteg.governance.retention import row_store
from dteg.spec.durations import format_duration
from dteg.spec.models import PipelineSpec

REQUEST_ACTIONS = ("privacy.erase", "privacy.export")


def _can_delete(spec: PipelineSpec, step: Any) -> str | None:
    """None when the load's target deletes rows in place; else why it cannot. Builds the
    row store only (its connection opens on first use): nothing is read or deleted."""
    try:
        store = row_store(spec, step)
    except DtegError as exc:
        return spec.redactor(str(exc))
    if store is None:
        return (f"`{step.component or step.type}` cannot delete rows in place; expire its "
                "files or topic by age at the storage (lifecycle rules, topic retention.ms)")
    store.close()
    return None


def retention_plan(specs: Iterable[PipelineSpec]) -> list[dict[str, Any]]:
    """One row per load: its limit, and whether the retention job enforces it."""
    rows = []
    for spec in sorted(specs, key=lambda s: s.name):
        retention = spec.body.retention
        for step in spec.sinks():
            rule = retention.for_sink(step.name) if retention is not None else None
            row: dict[str, Any] = {
                "pipeline": spec.name, "step": step.name,
                "dataset": dataset_key(*dataset_of(spec, step)),
                "target": step.component or step.type, "column": None, "keep": None,
                "status": "not_set", "reason": "no `retention:` limit: rows are kept until "
                "erased"}
            if rule is not None:
                column, keep = rule
                reason = _can_delete(spec, step)
                row.update(column=column, keep=format_duration(keep),
                           status="enforced" if reason is None else "not_enforced",
                           reason=reason or f"the target deletes rows in place: `dteg privacy "
                           f"retention` removes those whose `{column}` is older than "
                           f"{format_duration(keep)}")
            rows.append(row)
    return rows


def subject_requests(entries: Iterable[AuditEntry], limit: int) -> list[dict[str, Any]]:
    """The newest data-subject requests, one per request id with its receipts (the audit
    entries the erase and export jobs append per dataset), newest first."""
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:  # newest first
        detail = entry.detail or {}
        request_id = detail.get("request_id")
        if entry.action not in REQUEST_ACTIONS or not isinstance(request_id, str):
            continue
        if request_id not in found:
            if len(found) >= limit:
                continue
            found[request_id] = {"request_id": request_id,
                                 "kind": entry.action.split(".", 1)[1], "actor": entry.actor,
                                 "at": entry.at.isoformat(), "receipts": []}
        request = found[request_id]
        request["at"] = min(request["at"], entry.at.isoformat())
        request["receipts"].append({
            "seq": entry.seq, "dataset": entry.resource, "status": entry.result,
            **{k: detail.get(k) for k in ("pipeline", "step", "target", "column",
                                           "protection", "rows", "message")}})
    for request in found.values():
        request["receipts"].sort(key=lambda r: r["seq"])
        request["complete"] = all(r["status"] not in ("failed", "unsupported")
                                  for r in request["receipts"])
    return list(found.values())
