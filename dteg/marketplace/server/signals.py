"""Quality signals: opt-in usage reports from dteg runs give each version a run success rate
and monthly active installs (calendar month, UTC).

A report names an anonymous install id (random, made once per machine by the client), and per
marketplace component: version, success or failure, rows. No data, no pipeline names; the
registry keeps only the sha256 of the install id. Counters are ``$inc`` upserts on keys
(``usage``: ``name@version@month``; ``usage_component``: ``name@month``), and an install is
counted once per month by inserting its key (``usage_installs``) — the unique ``_id`` decides,
so a repeated or concurrent report never counts an install twice. Billing (signed, per
licence) is a separate thing and never reads these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dteg.marketplace.server.deps import Store
from dteg.marketplace.server.storage import MetadataStore

MAX_REPORTS = 200


class ComponentUsage(BaseModel):
    component: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=64)
    success: bool
    rows: int = Field(default=0, ge=0)


class UsageReport(BaseModel):
    install_id: str = Field(min_length=16, max_length=128)
    reports: list[ComponentUsage] = Field(max_length=MAX_REPORTS)


def month_of(when: dt.datetime | None = None) -> str:
    return (when or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m")


def _count_install(store: MetadataStore, key: str) -> bool:
    """True the first time ``key`` is seen."""
    try:
        store.db.usage_installs.insert_one({"_id": key})
    except store.duplicate_key_error:
        return False
    return True


def record_usage(store: MetadataStore, report: UsageReport) -> tuple[int, int]:
    """Count each component's run; (accepted, ignored: not a component version here)."""
    month = month_of()
    install = hashlib.sha256(report.install_id.encode()).hexdigest()[:32]
    accepted = ignored = 0
    for one in report.reports:
        if store.version(one.component, one.version) is None:
            ignored += 1
            continue
        accepted += 1
        name, version = one.component, one.version
        first_for_version = _count_install(store, f"{name}@{version}@{month}@{install}")
        store.db.usage.update_one(
            {"_id": f"{name}@{version}@{month}"},
            {"$inc": {"runs": 1, "successes": int(one.success), "rows": one.rows,
                      "installs": int(first_for_version)},
             "$setOnInsert": {"name": name, "version": version, "month": month}}, upsert=True)
        first_for_component = _count_install(store, f"{name}@{month}@{install}")
        store.db.usage_component.update_one(
            {"_id": f"{name}@{month}"},
            {"$inc": {"runs": 1, "successes": int(one.success),
                      "installs": int(first_for_component)}}, upsert=True)
    return accepted, ignored


def _rate(doc: dict[str, Any] | None) -> float | None:
    runs = int((doc or {}).get("runs") or 0)
    return round(int((doc or {}).get("successes") or 0) / runs, 4) if runs else None


def component_signals(store: MetadataStore, name: str) -> dict[str, Any]:
    """This month's ``success_rate``, ``active_installs_month`` and ``runs_month``."""
    doc = store.db.usage_component.find_one({"_id": f"{name}@{month_of()}"})
    return {"success_rate": _rate(doc), "active_installs_month": int((doc or {}).get(
        "installs") or 0), "runs_month": int((doc or {}).get("runs") or 0)}


def version_signals(store: MetadataStore, name: str) -> dict[str, dict[str, Any]]:
    """Per version, this month: ``success_rate``, ``active_installs_month``, ``runs_month``,
    ``rows_month``."""
    found = store.db.usage.find({"name": name, "month": month_of()})
    return {d["version"]: {"success_rate": _rate(d),
                           "active_installs_month": int(d.get("installs") or 0),
                           "runs_month": int(d.get("runs") or 0),
                           "rows_month": int(d.get("rows") or 0)} for d in found}


def signal_routes() -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/usage-reports", status_code=202)
    def usage_reports(body: UsageReport, store: Store) -> dict[str, int]:
        # Anonymous on purpose: a report carries no identity beyond a random install id.
        accepted, ignored = record_usage(store, body)
        return {"accepted": accepted, "ignored": ignored}

    return router
