"""Storage documents → API responses (storage models stay apart from what the API returns),
and the tier of a component."""

from __future__ import annotations

import datetime as dt
from typing import Any

REQUIRED_GATES = ("manifest", "semver", "docs", "coverage", "security", "performance")
MIN_RATING = 4.0
MIN_MONTHLY_DOWNLOADS = 1000


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def gate_summary(report: dict[str, Any] | None) -> dict[str, str]:
    gates = (report or {}).get("gates") or {}
    return {name: str((gate or {}).get("status", "unknown")) for name, gate in gates.items()}


def failed_gates(report: dict[str, Any]) -> list[str]:
    """Each required gate that is missing or not passed, with its detail."""
    gates = report.get("gates") or {}
    failed = []
    for name in REQUIRED_GATES:
        gate = gates.get(name)
        if not isinstance(gate, dict):
            failed.append(f"{name}: missing from the gate report")
        elif gate.get("status") != "pass":
            failed.append(f"{name}: {gate.get('detail') or gate.get('status')}")
    return failed


def tier(component: dict[str, Any], *, official: bool, monthly_downloads: int) -> str:
    """official (the registry's own publisher), verified (every required and optional gate),
    community (the required gates, which every published version passed)."""
    if official:
        return "official"
    rating = component.get("rating")
    if rating is not None and rating >= MIN_RATING and monthly_downloads >= MIN_MONTHLY_DOWNLOADS:
        return "verified"
    return "community"


def version_out(doc: dict[str, Any]) -> dict[str, Any]:
    """A version document as the API returns it."""
    return {
        "name": doc["name"], "version": doc["version"], "package": doc.get("package"),
        "published_at": iso(doc.get("published_at")), "publisher": doc.get("publisher"),
        "manifest": doc.get("manifest", {}), "requires_python": doc.get("requires_python", ""),
        "framework_versions": doc.get("framework_versions", ""),
        "breaking_changes": doc.get("breaking_changes", []),
        "gate_report": doc.get("gate_report", {}), "yanked": bool(doc.get("yanked")),
        "artifacts": doc.get("artifacts", []),
    }


def hit_out(doc: dict[str, Any]) -> dict[str, Any]:
    """A component document as one search result."""
    return {
        "name": doc["_id"], "latest_version": doc.get("latest_version"),
        "kind": doc.get("kind"), "category": doc.get("category"),
        "description": doc.get("description", ""), "author": doc.get("author", ""),
        "publisher": doc.get("publisher"), "rating": doc.get("rating"),
        "downloads": int(doc.get("downloads") or 0), "tier": doc.get("tier", "community"),
        "gates": doc.get("gates", {}), "updated_at": iso(doc.get("updated_at")),
        "pricing": pricing_out(doc.get("pricing")),
    }


def pricing_out(pricing: dict[str, Any] | None) -> dict[str, Any]:
    """``{tier, price, unit, currency}`` (a component published before pricing tiers: free)."""
    given = pricing or {}
    return {"tier": given.get("tier", "free"), "price": given.get("price"),
            "unit": given.get("unit"), "currency": given.get("currency", "USD")}
