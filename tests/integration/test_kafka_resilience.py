"""`dteg stream` as a process: SIGKILL mid-way loses nothing, a broker that is down at start
is a clear error, a broker restarted mid-stream is survived, SIGTERM drains and commits, and
Prometheus metrics are served."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.integration.kafka_service import (
    REPO,
    committed,
    create_topic,
    kafka_bootstrap,  # noqa: F401 - session fixture
    private_broker_env,
    produce,
    service,
    unique,
    wait_committed,
)

pytestmark = pytest.mark.integration
DTEG = [sys.executable, "-m", "dteg.cli"]


def _pipeline(folder: Path, bootstrap: str, topic: str, group: str, *, until: bool,
              max_records: int = 20_000) -> Path:
    path = folder / "crash.yaml"
    path.write_text(f"""
pipeline:
  name: crash_test
  steps:
    - extract:
        type: kafka
        config:
          bootstrap_servers: {bootstrap}
          topic: {topic}
          group_id: {group}
          schema: {{id: int, v: string}}
          {"until: now" if until else ""}
          batch: {{max_records: {max_records}, max_seconds: 0.2}}
    - load:
        type: duckdb
        config: {{database: sink.duckdb, table: rows}}
""")
    return path


def _start(args: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None
           ) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*DTEG, *args], cwd=cwd, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def _sink_counts(db: Path) -> tuple[int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*), count(DISTINCT id) FROM rows").fetchall()[0]
    finally:
        con.close()


def _wait_for_output(log: Path, text: str, proc: subprocess.Popen[bytes],
                     timeout: float = 120) -> None:
    """Wait until the process has written ``text`` to its log (it is still running)."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"the stream exited before it wrote {text!r}"
        assert time.monotonic() < deadline, f"no {text!r} in the stream's output in {timeout} s"
        time.sleep(0.2)


def _broker_of(env: dict[str, str]) -> list[str]:
    """Pids of live brokers of a private broker's state folder (found by command line)."""
    props = f"{env['DTEG_KAFKA_DIR']}/server.properties"
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kafka.Kafka" in args and props.encode() in args:
            found.append(cmdline.parent.name)
    return found


def test_sigkill_mid_stream_then_restart_loses_nothing(kafka_bootstrap: str,  # noqa: F811
                                                       tmp_path: Path) -> None:
    n = 200_000
    topic = create_topic(kafka_bootstrap, unique("crash"), partitions=4)
    group = unique("crash")
    produce(kafka_bootstrap, topic, (json.dumps({"id": i, "v": f"row-{i}"}).encode()
                                     for i in range(n)),
            keys=[str(i).encode() for i in range(n)])
    pipeline = _pipeline(tmp_path, kafka_bootstrap, topic, group, until=True)
    kills = []
    for i, fraction in enumerate((0.25, 0.6)):  # killed twice, each time mid-stream
        proc = _start(["stream", str(pipeline)], tmp_path, tmp_path / f"run{i}.log")
        try:
            kills.append(wait_committed(kafka_bootstrap, group, topic, int(n * fraction),
                                         proc))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
    assert kills[-1] < n, "the stream finished before it could be killed"
    last = subprocess.run([*DTEG, "stream", str(pipeline), "--report-json", "r.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert last.returncode == 0, last.stdout + last.stderr
    rows, distinct = _sink_counts(tmp_path / "sink.duckdb")
    duplicates = rows - distinct
    print(f"\ncrash test: N={n:,}, SIGKILL with {kills[0]:,} then {kills[1]:,} offsets "
          f"committed; after the restart the sink holds {rows:,} rows, {distinct:,} distinct, "
          f"{duplicates:,} duplicates")
    assert distinct == n  # nothing lost
    assert sum(committed(kafka_bootstrap, group, topic).values()) == n
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["read"] >= n - kills[-1]


def test_killed_after_sinks_committed_is_settled_without_rereading(
        kafka_bootstrap: str, tmp_path: Path) -> None:  # noqa: F811
    topic = create_topic(kafka_bootstrap, unique("settle"), partitions=2)
    group = unique("settle")
    produce(kafka_bootstrap, topic, ({"id": i, "v": "x"} for i in range(5000)))
    pipeline = _pipeline(tmp_path, kafka_bootstrap, topic, group, until=True, max_records=2000)
    # DTEG_FAULT kills the process right after the first micro-batch's sinks committed.
    first = subprocess.run([*DTEG, "stream", str(pipeline)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300,
                           env={**os.environ, "DTEG_FAULT": "kill_before_offset_commit"})
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert sum(max(v, 0) for v in committed(kafka_bootstrap, group, topic).values()) == 0
    second = subprocess.run([*DTEG, "stream", str(pipeline)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "they were committed now, so that micro-batch is not read again" in second.stderr
    assert _sink_counts(tmp_path / "sink.duckdb") == (5000, 5000)  # no duplicate at all


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_broker_down_at_start_is_a_clear_error(tmp_path: Path) -> None:
    pipeline = tmp_path / "down.yaml"
    pipeline.write_text(f"""
pipeline:
  name: down
  steps:
    - extract:
        type: kafka
        config:
          bootstrap_servers: 127.0.0.1:{_free_port()}
          topic: anything
          connect_attempts: 2
          connect_timeout: 1
    - load:
        type: jsonl
        config: {{path: out/x/, mode: append}}
""")
    started = time.monotonic()
    proc = subprocess.run([*DTEG, "stream", str(pipeline)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "cannot reach Kafka at 127.0.0.1:" in proc.stderr
    assert "after 2 attempt(s)" in proc.stderr
    assert "scripts/services/kafka start" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 60


@pytest.fixture
def private_broker(kafka_bootstrap: str) -> Iterator[tuple[str, dict[str, str]]]:  # noqa: F811
    """A broker of its own (the service script on other ports), stopped afterwards."""
    port = 59192
    env = private_broker_env("kafka-restart-test", port)
    try:  # a start that fails may still have left a broker: stopped in any case
        started = service("start", env=env)
        assert started.returncode == 0, started.stderr
        yield f"127.0.0.1:{port}", env
    finally:
        stopped = service("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        assert not _broker_of(env), "the private broker still runs after stop"


def test_broker_restarted_mid_stream_recovers(private_broker: tuple[str, dict[str, str]],
                                              tmp_path: Path) -> None:
    bootstrap, env = private_broker
    topic = create_topic(bootstrap, unique("restart"), partitions=2)
    group = unique("restart")
    produce(bootstrap, topic, ({"id": i, "v": "a"} for i in range(10_000)))
    pipeline = _pipeline(tmp_path, bootstrap, topic, group, until=False, max_records=2000)
    log = tmp_path / "stream.log"
    proc = _start(["stream", str(pipeline), "--max-records", "20000", "--report-json",
                   "r.json"], tmp_path, log)
    try:
        wait_committed(bootstrap, group, topic, 10_000, proc)
        stopped = service("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        _wait_for_output(log, "retrying", proc)  # the stream noticed, and retries with backoff
        started = service("start", env=env)
        assert started.returncode == 0, started.stderr
        produce(bootstrap, topic, ({"id": i, "v": "b"} for i in range(10_000, 20_000)))
        proc.wait(240)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    assert proc.returncode == 0, out
    assert "retrying" in out, out
    assert _sink_counts(tmp_path / "sink.duckdb") == (20_000, 20_000)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["retries"] >= 1


def test_sigterm_drains_commits_and_metrics_are_served(kafka_bootstrap: str,  # noqa: F811
                                                       tmp_path: Path) -> None:
    topic = create_topic(kafka_bootstrap, unique("term"), partitions=3)
    group = unique("term")
    produce(kafka_bootstrap, topic, ({"id": i, "v": "t"} for i in range(3000)))
    pipeline = _pipeline(tmp_path, kafka_bootstrap, topic, group, until=False)
    port = _free_port()
    proc = _start(["stream", str(pipeline), "--metrics-port", str(port)], tmp_path,
                  tmp_path / "term.log")
    try:
        wait_committed(kafka_bootstrap, group, topic, 3000, proc)
        # The offsets are committed a moment before the micro-batch's counts are published.
        deadline = time.monotonic() + 60
        while True:
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                             timeout=10).read().decode()
            if 'records_in_total{pipeline="crash_test"} 3000.0' in metrics or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = (tmp_path / "term.log").read_text()
    assert proc.returncode == 0, out
    assert "stopped by signal SIGTERM" in out
    assert 'dteg_stream_records_in_total{pipeline="crash_test"} 3000.0' in metrics
    assert 'dteg_stream_records_out_total{pipeline="crash_test",step="load"} 3000.0' in metrics
    assert f'dteg_stream_consumer_lag{{partition="0",pipeline="crash_test",step="extract",' \
           f'topic="{topic}"}}' in metrics
    assert "dteg_stream_end_to_end_latency_seconds_bucket" in metrics
    assert _sink_counts(tmp_path / "sink.duckdb") == (3000, 3000)
    assert REPO.exists()
