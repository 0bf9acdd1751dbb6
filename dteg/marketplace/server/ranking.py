"""Search ranking: a text match first, then rating, downloads and recency.

Scoring happens in Python over the (kind/category-filtered) component documents: FerretDB 1.24
has no ``$text`` index, and a thousand components score in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from dteg.marketplace.server.documents import average_rating

# Where a query word is found, and what that is worth; a word found nowhere excludes the
# component. Text relevance dominates; the quality terms each add at most 1.
_FIELDS = (("name", 3.0), ("keywords", 2.0), ("category", 2.0), ("description", 1.0))


def text_score(doc: dict[str, Any], words: list[str]) -> float | None:
    """How well ``doc`` matches every word (None: some word matches nothing)."""
    total = 0.0
    for word in words:
        best = 0.0
        for field, weight in _FIELDS:
            value = doc.get(field) or ""
            text = " ".join(value) if isinstance(value, list) else str(value)
            if word in text.lower():
                best = max(best, weight * (2.0 if field == "name" and doc["_id"] == word else 1.0))
        if best == 0.0:
            return None
        total += best
    return total


def quality_score(doc: dict[str, Any], now: dt.datetime) -> float:
    """Rating (0..1), downloads (log scale, 0..1 at 10,000) and recency (half-life 90 days)."""
    rating = (average_rating(doc) or 0.0) / 5.0
    downloads = min(math.log10((doc.get("downloads") or 0) + 1) / 4.0, 1.0)
    updated = doc.get("updated_at")
    recency = 0.0
    if isinstance(updated, dt.datetime):
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=dt.timezone.utc)
        age_days = max((now - updated).total_seconds() / 86400.0, 0.0)
        recency = 0.5 ** (age_days / 90.0)
    return rating + downloads + recency


def rank(docs: list[dict[str, Any]], query: str, now: dt.datetime) -> list[dict[str, Any]]:
    """Matching documents, best first (ties by name)."""
    words = [w for w in query.lower().split() if w]
    scored = []
    for doc in docs:
        text = text_score(doc, words) if words else 0.0
        if text is None:
            continue
        scored.append((-(text * 10.0 + quality_score(doc, now)), doc["_id"], doc))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [doc for _, _, doc in scored]
