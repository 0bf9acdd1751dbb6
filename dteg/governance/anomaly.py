"""Volume anomalies: a run whose row count falls outside the rolling median ± k·MAD of the
runs before it (the median absolute deviation, scaled by 1.4826 so it estimates a standard
deviation for normal data, is robust to the outliers it is looking for)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAD_SCALE = 1.4826


@dataclass(frozen=True)
class VolumePoint:
    run_id: str
    at: str
    rows: int
    median: float | None = None
    low: float | None = None
    high: float | None = None
    anomaly: bool = False


def _median(values: Sequence[float]) -> float:
    # statistics.median, without its generality: a dashboard calls this per point.
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def flag(points: list[tuple[str, str, int]], window: int = 20, k: float = 3.0,
         min_history: int = 5) -> list[VolumePoint]:
    """``points`` (run id, time, rows), oldest first → each with its band and flag. A run
    needs ``min_history`` earlier runs to be judged; a flat history (MAD 0) flags any
    change."""
    out: list[VolumePoint] = []
    history: list[int] = []
    for run_id, at, rows in points:
        recent = history[-window:]
        if len(recent) < min_history:
            out.append(VolumePoint(run_id, at, rows))
        else:
            median = _median(recent)
            mad = MAD_SCALE * _median([abs(r - median) for r in recent])
            low, high = median - k * mad, median + k * mad
            out.append(VolumePoint(run_id, at, rows, median, low, high,
                                   anomaly=not low <= rows <= high))
        history.append(rows)
    return out
