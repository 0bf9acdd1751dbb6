"""Windows on `dteg stream --runner prism` (Beam windows and triggers in the runner) against
the real broker and the real Prism binary (with CI=true a missing one fails, never skips).

* Parity: the Kafka windowed example (fixed one-minute windows, out-of-order clicks within
  the allowed lateness) gives the same windows on the micro-batch path and on Prism: every
  window the micro-batch path closed has the same row on Prism, and Prism (whose `until:`
  end closes every window) holds every click once.
* Offsets are committed only after the windows they fed were committed (the commit stage
  after the sinks): at the end the group stands at the topic's ends."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.integration.kafka_service import (
    committed,
    create_topic,
    kafka_bootstrap,  # noqa: F401 - session fixture
    produce,
    unique,
)
from tests.integration.prism_service import prism_binary  # noqa: F401 - session fixture

pytestmark = pytest.mark.integration
DTEG = [sys.executable, "-m", "dteg.cli"]
BASE = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)
LATENESS = dt.timedelta(seconds=30)
Windows = dict[tuple[dt.datetime, str], tuple[int, float, float]]


def _events(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    events = []
    for i in range(n):
        seconds = max(i * 0.3 + rng.uniform(-20, 0), 0)  # out of order, within the lateness
        events.append({"user": f"u{rng.randint(1, 50)}",
                       "country": rng.choice(["kr", "jp", "us", "br"]),
                       "amount": round(rng.uniform(1, 100), 2),
                       "at": (BASE + dt.timedelta(seconds=seconds)).isoformat()})
    return events


def _reference(events: list[dict[str, Any]], closed_by: dt.datetime | None) -> Windows:
    groups: dict[tuple[dt.datetime, str], list[float]] = defaultdict(list)
    for e in events:
        start = dt.datetime.fromisoformat(e["at"]).replace(second=0, microsecond=0)
        if closed_by is None or start + dt.timedelta(minutes=1) <= closed_by:
            groups[(start, e["country"])].append(e["amount"])
    return {k: (len(v), round(sum(v), 6), max(v)) for k, v in groups.items()}


def _windows(folder: Path) -> Windows:
    con = duckdb.connect(str(folder / ".dteg" / "warehouse.duckdb"), read_only=True)
    try:
        return {(r[0], r[1]): (r[2], round(r[3], 6), r[4]) for r in con.execute(
            "SELECT window_start, country, clicks, revenue, biggest FROM clicks_per_minute"
        ).fetchall()}
    finally:
        con.close()


@pytest.mark.parametrize("kind", ["fixed", "sliding"])
def test_the_kafka_windowed_example_gives_the_same_windows_on_micro_batches_and_on_prism(
        kafka_bootstrap: str, prism_binary: str, workdir: Path,  # noqa: F811
        tmp_path: Path, kind: str) -> None:
    events = _events(2000)
    topic = create_topic(kafka_bootstrap, unique("prism-windows"), partitions=2)
    produce(kafka_bootstrap, topic, events)
    example = (workdir / "kafka_windowed.yaml").read_text()
    # The same YAML on both paths, ending at the topic's end (`until: now`).
    bounded = example.replace("          schema:", "          until: now\n          schema:")
    if kind == "sliding":  # one-minute windows every 30 s: each click in two windows
        bounded = bounded.replace("type: fixed\n        size: 1m",
                                  "type: sliding\n        size: 1m\n        every: 30s")
    assert bounded.count("until: now") == 1 and kind in bounded
    results: dict[str, tuple[Windows, dict[str, Any]]] = {}
    groups = {}
    for runner in ("direct", "prism"):
        folder = tmp_path / runner
        shutil.copytree(workdir, folder)
        (folder / "kafka_windowed.yaml").write_text(bounded)
        groups[runner] = unique(f"windows-{runner}")
        env = {**os.environ, "DTEG_PRISM_LOCATION": prism_binary, "DTEG_KAFKA_TOPIC": topic,
               "DTEG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
               "DTEG_KAFKA_GROUP": groups[runner]}
        done = subprocess.run([*DTEG, "stream", str(folder / "kafka_windowed.yaml"),
                               "--runner", runner, "--report-json", str(folder / "r.json")],
                              cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads((folder / "r.json").read_text())
        assert report["read"] == len(events), report
        assert report["dead_lettered"] == 0, report
        results[runner] = (_windows(folder), report)
    direct, prism = results["direct"][0], results["prism"][0]
    assert len(direct) >= 30
    # Prism: the same rows for every window the micro-batch path closed …
    assert {k: v for k, v in prism.items() if k in direct} == direct
    if kind == "fixed":
        watermark = max(dt.datetime.fromisoformat(e["at"]) for e in events) - LATENESS
        assert direct == _reference(events, watermark)  # the closed windows
        # … and its end (the watermark at +inf) closed the rest: every click once.
        assert prism == _reference(events, None)
    else:  # every click in exactly two windows, and more windows than the closed ones
        assert sum(v[0] for v in prism.values()) == 2 * len(events)
        assert len(prism) > len(direct)
    for runner in ("direct", "prism"):  # offsets committed to the topic's ends
        ends = committed(kafka_bootstrap, groups[runner], topic)
        assert sum(ends.values()) == len(events), (runner, ends)


def test_sigkill_mid_stream_on_a_windowed_pipeline_then_restart_loses_no_window(
        kafka_bootstrap: str, prism_binary: str, workdir: Path,  # noqa: F811
        tmp_path: Path) -> None:
    import signal

    from tests.integration.test_prism_stream import _prism_child, _wait_committed

    events = _events(8000)  # 40 minutes of clicks: windows close while the stream runs
    topic = create_topic(kafka_bootstrap, unique("prism-windows-crash"), partitions=2)
    group = unique("windows-crash")
    # Keyed, so both partitions span the whole 40 minutes: a partition whose data ends
    # early holds the watermark (and so the windows and the offsets) where its data ended.
    produce(kafka_bootstrap, topic, events, keys=[str(i) for i in range(len(events))])
    example = (workdir / "kafka_windowed.yaml").read_text()
    small = "          batch: {max_records: 200, max_seconds: 0.2}\n          schema:"
    crash = example.replace("          schema:", small)
    (workdir / "crash.yaml").write_text(crash)
    (workdir / "final.yaml").write_text(crash.replace("          schema:",
                                                      "          until: now\n          schema:"))
    env = {**os.environ, "DTEG_PRISM_LOCATION": prism_binary, "DTEG_KAFKA_TOPIC": topic,
           "DTEG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DTEG_KAFKA_GROUP": group}
    log = tmp_path / "crash.log"
    proc = subprocess.Popen([*DTEG, "stream", str(workdir / "crash.yaml"), "--runner", "prism"],
                            cwd=workdir, stdout=open(log, "wb"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, env=env)
    try:
        _prism_child(proc.pid, proc)
        at_kill = _wait_committed(kafka_bootstrap, group, topic, 1000, proc, log)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert at_kill < len(events), "the stream committed everything before it was killed"
    before = _windows(workdir)
    assert before, "no window was committed before the kill"
    final = workdir / "final.yaml"
    done = subprocess.run([*DTEG, "stream", str(final), "--runner", "prism", "--report-json",
                           str(tmp_path / "r.json")], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    got = _windows(workdir)
    print(f"\nprism windows crash test: {len(events):,} clicks, SIGKILL with {at_kill:,} "
          f"offsets committed and {len(before)} window rows written; {len(got)} at the end")
    # Every window once, none partial (a replay never overwrote one with fewer clicks).
    expected = _reference(events, None)
    diff = {k: (got.get(k), expected.get(k)) for k in set(got) | set(expected)
            if got.get(k) != expected.get(k)}
    assert not diff, sorted(diff.items())[:8]
    assert sum(committed(kafka_bootstrap, group, topic).values()) == len(events)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["read"] >= len(events) - at_kill and report["dead_lettered"] == 0, report
