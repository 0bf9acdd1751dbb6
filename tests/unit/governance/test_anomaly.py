"""Volume anomalies: rolling median ± k·MAD over the earlier runs."""

from __future__ import annotations

from dteg.governance.anomaly import flag


def _points(rows: list[int]) -> list[tuple[str, str, int]]:
    return [(f"r{i}", f"2026-12-01T00:{i:02d}:00", n) for i, n in enumerate(rows)]


def test_a_drop_and_a_spike_are_flagged_normal_noise_is_not() -> None:
    rows = [1000, 1010, 990, 1005, 995, 1002, 998, 120, 1001, 5000, 1003]
    flagged = [p.run_id for p in flag(_points(rows)) if p.anomaly]
    assert flagged == ["r7", "r9"]


def test_too_little_history_is_not_judged() -> None:
    points = flag(_points([10, 10_000, 3]), min_history=5)
    assert not any(p.anomaly for p in points)
    assert all(p.median is None for p in points)


def test_a_flat_history_flags_any_change_and_bands_are_reported() -> None:
    points = flag(_points([500] * 6 + [501]))
    assert points[-1].anomaly and points[-1].median == 500 and points[-1].low == 500
