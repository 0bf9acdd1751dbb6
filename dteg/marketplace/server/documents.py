"""Storage documents → API responses (storage models stay apart from what the API returns):
ratings, badges and the tier of a component."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dteg.marketplace.server.badges import (
    MIN_COMMUNITY_RATING,
    MIN_MONTHLY_DOWNLOADS,
    BadgeInputs,
    badges,
)

REQUIRED_GATES = ("manifest", "semver", "docs", "coverage", "security", "performance")


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


def average_rating(doc: dict[str, Any]) -> float | None:
    """The mean rating of the visible reviews (kept as ``rating_sum``/``rating_count`` by
    atomic ``$inc`` on each review change), or None with no review."""
    count = int(doc.get("rating_count") or 0)
    if count > 0:
        return float(doc.get("rating_sum") or 0) / count
    legacy = doc.get("rating")  # documents written before reviews existed
    return float(legacy) if isinstance(legacy, int | float) else None


def rating_out(doc: dict[str, Any]) -> dict[str, Any]:
    """``{average, count}`` as the API returns it (average rounded to 2 places)."""
    average = average_rating(doc)
    return {"average": None if average is None else round(average, 2),
            "count": int(doc.get("rating_count") or 0)}


def tier(component: dict[str, Any], *, official: bool, monthly_downloads: int) -> str:
    """official (the registry's own publisher), verified (every required and optional gate),
    community (the required gates, which every published version passed)."""
    if official:
        return "official"
    rating = average_rating(component)
    if (rating is not None and rating >= MIN_COMMUNITY_RATING
            and monthly_downloads >= MIN_MONTHLY_DOWNLOADS):
        return "verified"
    return "community"


def version_out(doc: dict[str, Any], *, docs: bool = True) -> dict[str, Any]:
    """A version document as the API returns it (``docs``: with its documentation sections,
    which lists of versions leave out to stay small)."""
    out = {
        "name": doc["name"], "version": doc["version"], "package": doc.get("package"),
        "published_at": iso(doc.get("published_at")), "publisher": doc.get("publisher"),
        "manifest": doc.get("manifest", {}), "requires_python": doc.get("requires_python", ""),
        "framework_versions": doc.get("framework_versions", ""),
        "breaking_changes": doc.get("breaking_changes", []),
        "gate_report": doc.get("gate_report", {}), "yanked": bool(doc.get("yanked")),
        "artifacts": doc.get("artifacts", []),
    }
    if docs:
        out["docs"] = doc.get("docs") or {}
    return out


def required_gates_passed(summary: dict[str, str]) -> bool:
    """Every required gate in a gate summary (``{gate: status}``) passed."""
    return all(summary.get(name) == "pass" for name in REQUIRED_GATES)


def badges_of(doc: dict[str, Any]) -> list[str]:
    """The badges of a component document (see ``badges``)."""
    return badges(BadgeInputs(
        average_rating=average_rating(doc), monthly_downloads=int(doc.get("downloads_month") or 0),
        required_gates_passed=required_gates_passed(doc.get("gates") or {}),
        publisher_verified=bool(doc.get("publisher_verified")),
        optional_gates=doc.get("optional_gates") or {}))


def hit_out(doc: dict[str, Any]) -> dict[str, Any]:
    """A component document as one search result."""
    return {
        "name": doc["_id"], "latest_version": doc.get("latest_version"),
        "kind": doc.get("kind"), "category": doc.get("category"),
        "description": doc.get("description", ""), "author": doc.get("author", ""),
        "publisher": doc.get("publisher"), "rating": rating_out(doc),
        "downloads": int(doc.get("downloads") or 0), "tier": doc.get("tier", "community"),
        "gates": doc.get("gates", {}), "updated_at": iso(doc.get("updated_at")),
        "pricing": pricing_out(doc.get("pricing")),
        "badges": badges_of(doc), "downloads_month": int(doc.get("downloads_month") or 0),
    }


def pricing_out(pricing: dict[str, Any] | None) -> dict[str, Any]:
    """``{tier, price, unit, currency}`` (a component published before pricing tiers: free)."""
    given = pricing or {}
    return {"tier": given.get("tier", "free"), "price": given.get("price"),
            "unit": given.get("unit"), "currency": given.get("currency", "USD")}
