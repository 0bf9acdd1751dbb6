"""Event-time windows in a stream: windowed counts equal a reference computed here, late
events go to the dead-letter output with reason `late`, and open windows survive a restart."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dteg.cli import main
from tests.integration.kafka_service import (
    create_topic,
    kafka_bootstrap,  # noqa: F401 - session fixture
    produce,
    unique,
)

pytestmark = pytest.mark.integration
BASE = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)
LATENESS = dt.timedelta(seconds=30)


def _event(rng: random.Random, seconds: float) -> dict[str, Any]:
    return {"user": f"u{rng.randint(1, 50)}", "country": rng.choice(["kr", "jp", "us", "br"]),
            "amount": round(rng.uniform(1, 100), 2),
            "at": (BASE + dt.timedelta(seconds=seconds)).isoformat()}


def _stream(pipeline: Path, records: int, capsys: pytest.CaptureFixture[str],
            report: Path) -> dict[str, Any]:
    try:
        main(["stream", str(pipeline), "--max-records", str(records),
              "--report-json", str(report)])
    except SystemExit as exc:
        out = capsys.readouterr()
        assert not exc.code, out.out + out.err
    return json.loads(report.read_text())


def _reference(events: list[dict[str, Any]], watermark: dt.datetime
               ) -> dict[tuple[dt.datetime, str], tuple[int, float, float]]:
    """Per closed one-minute window and country: (clicks, revenue, biggest)."""
    groups: dict[tuple[dt.datetime, str], list[float]] = defaultdict(list)
    for e in events:
        at = dt.datetime.fromisoformat(e["at"])
        start = at.replace(second=0, microsecond=0)
        if start + dt.timedelta(minutes=1) <= watermark:
            groups[(start, e["country"])].append(e["amount"])
    return {k: (len(v), round(sum(v), 6), max(v)) for k, v in groups.items()}


def test_windowed_counts_match_a_reference_across_restarts(
        kafka_bootstrap: str, workdir: Path, monkeypatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rng = random.Random(4)
    topic = create_topic(kafka_bootstrap, unique("clicks"), partitions=2)
    monkeypatch.setenv("DTEG_KAFKA_TOPIC", topic)
    monkeypatch.setenv("DTEG_KAFKA_GROUP", unique("group"))
    pipeline = workdir / "kafka_windowed.yaml"

    # Phase A: ten minutes of clicks, a little out of order (less than the allowed lateness).
    phase_a = [_event(rng, i * 0.3 + rng.uniform(-20, 0)) for i in range(2000)]
    phase_a = [e for e in phase_a if e["at"] >= BASE.isoformat()]
    produce(kafka_bootstrap, topic, phase_a)
    report = _stream(pipeline, len(phase_a), capsys, tmp_path / "a.json")
    assert report["read"] == len(phase_a)
    max_a = max(dt.datetime.fromisoformat(e["at"]) for e in phase_a)
    watermark_a = max_a - LATENESS

    # Phase B (a new process): clicks for the still-open last minute and later ones, plus
    # clicks from minute 1, long closed: those are late.
    on_time = [_event(rng, 570 + i * 0.2) for i in range(600)]
    late = [_event(rng, 60 + i) for i in range(25)]
    mixed = on_time[:300] + late + on_time[300:]
    produce(kafka_bootstrap, topic, mixed)
    report = _stream(pipeline, len(mixed), capsys, tmp_path / "b.json")
    assert report["read"] == len(mixed)
    assert report["dead_lettered"] == len(late)

    watermark = max(dt.datetime.fromisoformat(e["at"]) for e in on_time) - LATENESS
    expected = _reference(phase_a + on_time, watermark)
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    got = {(r[0], r[1]): (r[2], round(r[3], 6), r[4]) for r in con.execute(
        "SELECT window_start, country, clicks, revenue, biggest FROM clicks_per_minute")
        .fetchall()}
    assert got == expected
    assert watermark_a < watermark
    # The minute that was open across the restart holds clicks of both phases.
    minute_9 = BASE + dt.timedelta(minutes=9)
    assert sum(v[0] for k, v in got.items() if k[0] == minute_9) == sum(
        1 for e in phase_a + on_time
        if minute_9 <= dt.datetime.fromisoformat(e["at"]) < minute_9 + dt.timedelta(minutes=1))
    dead = [json.loads(line) for f in (workdir / ".dteg" / "dead_letter" / "kafka_windowed")
            .rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(dead) == len(late)
    assert {d["reason"] for d in dead} == {"late"}
    assert {d["step"] for d in dead} == {"window"}
    assert all(d["rule"].startswith("watermark 2026-11-26T12:09") for d in dead)
