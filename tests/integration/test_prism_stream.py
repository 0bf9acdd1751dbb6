"""`dteg stream --runner prism`: the stream as one unbounded Beam pipeline on Prism, against
the real broker and the real Prism binary (with CI=true a missing one fails, never skips).

* SIGKILL twice mid-stream while a producer keeps writing, then a restart: every record is
  exactly once in a merge sink, the committed offsets are the topic's ends, counts
  reconcile, and the private Prism job server died with the stream each time.
* Parity: the Kafka example (validate → mask → DuckDB, poison messages to dead letters)
  loads the same rows and the same dead letters on the micro-batch path and on Prism.
* The broker stopped and started again mid-stream: the job waits, reads on, and every record
  lands once.
* A windowed pipeline is refused on Prism with one clear paragraph (windows stay on the
  micro-batch path for now)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.integration.kafka_service import (
    committed,
    create_topic,
    kafka_bootstrap,  # noqa: F401 - session fixture
    private_broker_env,
    produce,
    service,
    unique,
    wait_committed,
)
from tests.integration.prism_service import prism_binary  # noqa: F401 - session fixture

pytestmark = pytest.mark.integration
DTEG = [sys.executable, "-m", "dteg.cli"]
DEADLINE = 240.0


def _pipeline(folder: Path, bootstrap: str, topic: str, group: str, *, until: bool) -> Path:
    path = folder / ("final.yaml" if until else "crash.yaml")
    path.write_text(f"""
pipeline:
  name: prism_crash
  steps:
    - extract:
        type: kafka
        config:
          bootstrap_servers: {bootstrap}
          topic: {topic}
          group_id: {group}
          schema: {{id: int, v: string}}
          {"until: now" if until else ""}
          batch: {{max_records: 2000, max_seconds: 0.2}}
    - load:
        type: duckdb
        config: {{database: sink.duckdb, table: rows, mode: merge, key: [id]}}
""")
    return path


def _env(binary: str) -> dict[str, str]:
    return {**os.environ, "DTEG_PRISM_LOCATION": binary}


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _prism_child(pid: int, proc: subprocess.Popen[bytes]) -> int:
    """The Prism job server the stream started (waits until it is there)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        for child in _children(pid):
            try:
                if b"prism" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return child
            except OSError:
                continue
        assert proc.poll() is None, "the stream exited before it started Prism"
        time.sleep(0.1)
    raise AssertionError(f"the stream started no Prism in {DEADLINE} s")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _sink(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_sigkill_mid_stream_on_prism_then_restart_exactly_once_in_a_merge_sink(
        kafka_bootstrap: str, prism_binary: str, tmp_path: Path) -> None:  # noqa: F811
    n, chunk = 40_000, 2_000
    topic = create_topic(kafka_bootstrap, unique("prism-crash"), partitions=4)
    group = unique("prism-crash")
    produce(kafka_bootstrap, topic, ({"id": i, "v": f"row-{i}"} for i in range(chunk)))
    failures: list[BaseException] = []

    def producer() -> None:  # keeps writing while the stream runs and is killed
        try:
            for start in range(chunk, n, chunk):
                produce(kafka_bootstrap, topic,
                        ({"id": i, "v": f"row-{i}"} for i in range(start, start + chunk)))
                time.sleep(0.3)  # pacing only: nothing is asserted on time
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    writer = threading.Thread(target=producer, daemon=True)
    writer.start()
    crash = _pipeline(tmp_path, kafka_bootstrap, topic, group, until=False)
    kills = []
    for i, at_least in enumerate((chunk, 3 * chunk)):
        log = tmp_path / f"run{i}.log"
        proc = subprocess.Popen([*DTEG, "stream", str(crash), "--runner", "prism"],
                                cwd=tmp_path, stdout=open(log, "wb"),  # noqa: SIM115
                                stderr=subprocess.STDOUT, env=_env(prism_binary))
        try:
            prism = _prism_child(proc.pid, proc)
            floor = max(at_least, (kills[-1] + 1) if kills else 0)
            kills.append(wait_committed(kafka_bootstrap, group, topic, floor, proc, log=log))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 60
        while not _gone(prism):  # PR_SET_PDEATHSIG: Prism dies with the stream
            assert time.monotonic() < deadline, f"Prism {prism} outlived the killed stream"
            time.sleep(0.1)
    writer.join(DEADLINE)
    assert not writer.is_alive() and not failures, failures
    assert kills[-1] < n, "the stream read everything before it was killed"
    final = _pipeline(tmp_path, kafka_bootstrap, topic, group, until=True)
    last = subprocess.run([*DTEG, "stream", str(final), "--runner", "prism",
                           "--report-json", "r.json"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=_env(prism_binary))
    assert last.returncode == 0, last.stdout + last.stderr
    rows, distinct, low, high = _sink(tmp_path / "sink.duckdb",
                                      "SELECT count(*), count(DISTINCT id), min(id), max(id) "
                                      "FROM rows")[0]
    print(f"\nprism crash test: N={n:,}, SIGKILL with {kills[0]:,} then {kills[1]:,} offsets "
          f"committed; the merge sink holds {rows:,} rows ({distinct:,} distinct)")
    assert (rows, distinct, low, high) == (n, n, 0, n - 1)  # each record exactly once
    assert sum(committed(kafka_bootstrap, group, topic).values()) == n
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["runner"] == "prism (stream)"
    assert report["read"] >= n - kills[-1]
    assert report["reconciles"] is True
    assert report["read"] == report["loaded"] + report["dead_lettered"]


def _orders(start: int, count: int) -> list[bytes]:
    values = [json.dumps({"order_id": i, "email": f"user{i}@example.com",
                          "country": ["kr", "jp", "us"][i % 3], "amount": f"{i % 500}.25",
                          "created_at": f"2026-11-26T09:{i // 60 % 60:02d}:{i % 60:02d}Z"}
                         ).encode() for i in range(start, start + count)]
    values[7] = b'{"order_id": 7, "email": oops}'  # invalid JSON → dead letter
    values[11] = json.dumps({"order_id": None, "email": "x@example.com"}).encode()  # null_check
    return values


def _stream(workdir: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run([*DTEG, "stream", str(workdir / "kafka_to_duckdb.yaml"), *args,
                           "--report-json", str(workdir / "r.json")], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((workdir / "r.json").read_text())


def _loaded(workdir: Path) -> list[tuple[Any, ...]]:
    return _sink(workdir / ".dteg" / "warehouse.duckdb",
                 "SELECT * EXCLUDE (kafka_timestamp) FROM kafka_orders ORDER BY order_id")


def _dead(workdir: Path) -> list[tuple[str, str]]:
    folder = workdir / ".dteg" / "dead_letter" / "kafka_to_duckdb"
    return sorted((d["source"], d["reason"]) for f in folder.rglob("*.jsonl")
                  for line in f.read_text().splitlines() if line.strip()
                  for d in [json.loads(line)])


def test_the_kafka_example_gives_the_same_rows_on_micro_batches_and_on_prism(
        kafka_bootstrap: str, prism_binary: str, workdir: Path,  # noqa: F811
        tmp_path: Path) -> None:
    import shutil

    n = 3_000
    topic = create_topic(kafka_bootstrap, unique("prism-parity"), partitions=3)
    produce(kafka_bootstrap, topic, _orders(0, n), keys=[str(i) for i in range(n)])
    results = {}
    for runner in ("direct", "prism"):
        folder = tmp_path / runner
        shutil.copytree(workdir, folder)
        env = {**_env(prism_binary), "DTEG_KAFKA_TOPIC": topic,
               "DTEG_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
               "DTEG_KAFKA_GROUP": unique(f"parity-{runner}")}
        report = _stream(folder, env, "--runner", runner, "--max-records", str(n))
        assert report["read"] == n and report["reconciles"] is True, report
        results[runner] = (_loaded(folder), _dead(folder), report["loaded"],
                           report["dead_lettered"])
    direct, prism = results["direct"], results["prism"]
    assert direct[2] == prism[2] == n - 2 and direct[3] == prism[3] == 2
    assert prism[1] == direct[1] and len(direct[1]) == 2  # the same dead letters, same reasons
    assert prism[0] == direct[0]  # row by row, masked the same way


def test_a_windowed_pipeline_is_refused_on_prism_with_one_paragraph(
        prism_binary: str, workdir: Path) -> None:  # noqa: F811
    done = subprocess.run([*DTEG, "stream", str(workdir / "kafka_windowed.yaml"),
                           "--runner", "prism"], cwd=workdir, env=_env(prism_binary),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "window/aggregate steps do not run on `dteg stream --runner prism` yet" in \
        done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def private_broker(kafka_bootstrap: str) -> Iterator[tuple[str, dict[str, str]]]:  # noqa: F811
    """A broker of its own (the service script on other ports), stopped afterwards."""
    env = private_broker_env("kafka-prism-restart-test", 59193)
    try:  # a start that fails may still have left a broker: stopped in any case
        started = service("start", env=env)
        assert started.returncode == 0, started.stderr
        yield "127.0.0.1:59193", env
    finally:
        stopped = service("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr


def test_broker_restarted_mid_stream_the_prism_job_reads_on(
        private_broker: tuple[str, dict[str, str]], prism_binary: str,  # noqa: F811
        tmp_path: Path) -> None:
    bootstrap, env = private_broker
    topic = create_topic(bootstrap, unique("prism-restart"), partitions=2)
    group = unique("prism-restart")
    produce(bootstrap, topic, ({"id": i, "v": "a"} for i in range(5_000)))
    pipeline = _pipeline(tmp_path, bootstrap, topic, group, until=False)
    log = tmp_path / "stream.log"
    proc = subprocess.Popen([*DTEG, "stream", str(pipeline), "--runner", "prism",
                             "--max-records", "10000", "--report-json", "r.json"],
                            cwd=tmp_path, stdout=open(log, "wb"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, env=_env(prism_binary))
    try:
        wait_committed(bootstrap, group, topic, 5_000, proc, log=log)
        stopped = service("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        started = service("start", env=env)
        assert started.returncode == 0, started.stderr
        produce(bootstrap, topic, ({"id": i, "v": "b"} for i in range(5_000, 10_000)))
        proc.wait(DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    assert proc.returncode == 0, out
    assert _sink(tmp_path / "sink.duckdb", "SELECT count(*), count(DISTINCT id) FROM rows") \
        == [(10_000, 10_000)]
    assert sum(committed(bootstrap, group, topic).values()) == 10_000
