"""Badges from the component standard's gates, shown wherever a component is listed.

- ``popular``: the optional gates ``community_rating`` (≥ 4.0) and ``monthly_downloads``
  (≥ 1000) both met. A manifest may ask more of itself (a higher threshold), never less: the
  standard's figures are floors, so a publisher cannot award itself the badge.
- ``certified``: every required gate of the latest version passed and the publisher is
  verified by the registry's admin.

Pure: everything comes from the component document (``rating_sum``/``rating_count``,
``downloads_month``, ``gates``, ``optional_gates`` from the manifest, ``publisher_verified``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIN_COMMUNITY_RATING = 4.0
MIN_MONTHLY_DOWNLOADS = 1000


@dataclass(frozen=True)
class BadgeInputs:
    average_rating: float | None
    monthly_downloads: int
    required_gates_passed: bool
    publisher_verified: bool
    optional_gates: dict[str, Any]


def thresholds(optional_gates: dict[str, Any]) -> tuple[float, int]:
    """(community rating, monthly downloads) a component must reach for ``popular``."""
    rating = optional_gates.get("community_rating")
    downloads = optional_gates.get("monthly_downloads")
    return (max(float(rating) if isinstance(rating, int | float) else 0.0,
                MIN_COMMUNITY_RATING),
            max(int(downloads) if isinstance(downloads, int | float) else 0,
                MIN_MONTHLY_DOWNLOADS))


def badges(inputs: BadgeInputs) -> list[str]:
    """The badges earned, in a fixed order."""
    earned = []
    min_rating, min_downloads = thresholds(inputs.optional_gates)
    if (inputs.average_rating is not None and inputs.average_rating >= min_rating
            and inputs.monthly_downloads >= min_downloads):
        earned.append("popular")
    if inputs.required_gates_passed and inputs.publisher_verified:
        earned.append("certified")
    return earned
