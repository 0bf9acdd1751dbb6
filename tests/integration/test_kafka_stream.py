"""`dteg stream` and `dteg run` against the real broker: JSON and Avro topics, several
partitions, consumer-group resume, poison messages, `until:`, and the seed's component id."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
from pathlib import Path
from typing import Any

import duckdb
import fastavro
import pytest

from tests.integration.kafka_service import (
    committed,
    create_topic,
    kafka_bootstrap,  # noqa: F401 - session fixture
    produce,
    unique,
)

pytestmark = pytest.mark.integration



def _orders(start: int, n: int) -> list[dict[str, Any]]:
    base = dt.datetime(2026, 11, 26, 9, tzinfo=dt.timezone.utc)
    return [{"order_id": i, "email": f"user{i}@example.com", "country": ["kr", "jp", "us"][i % 3],
             "amount": f"{i % 1000}.{i % 100:02d}",
             "created_at": (base + dt.timedelta(seconds=i)).isoformat()}
            for i in range(start, start + n)]


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _dead(workdir: Path, pipeline: str) -> list[dict[str, Any]]:
    folder = workdir / ".dteg" / "dead_letter" / pipeline
    return [json.loads(line) for f in sorted(folder.rglob("*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]


def test_json_topic_three_partitions_resumes_from_committed_offsets(
        kafka_bootstrap: str, workdir: Path, dteg, monkeypatch) -> None:  # noqa: F811
    topic = create_topic(kafka_bootstrap, unique("orders"), partitions=3)
    group = unique("group")
    monkeypatch.setenv("DTEG_KAFKA_TOPIC", topic)
    monkeypatch.setenv("DTEG_KAFKA_GROUP", group)
    orders = _orders(0, 3000)
    produce(kafka_bootstrap, topic, orders, keys=[str(o["order_id"]) for o in orders])
    pipeline = workdir / "kafka_to_duckdb.yaml"

    code, report, out = dteg("stream", str(pipeline), "--max-records", "2000")
    assert code == 0, out
    assert report["read"] == 2000 and report["loaded"] == 2000, out
    assert report["stopped_by"] == "--max-records 2000"
    offsets = committed(kafka_bootstrap, group, topic)
    assert sum(offsets.values()) == 2000 and len(offsets) == 3
    assert all(v > 0 for v in offsets.values()), offsets  # every partition got its turn

    # A restart continues from the committed offsets: nothing is read twice.
    produce(kafka_bootstrap, topic, _orders(3000, 1000))
    code, report, out = dteg("stream", str(pipeline), "--max-records", "2000")
    assert code == 0, out
    assert report["read"] == 2000
    db = workdir / ".dteg" / "warehouse.duckdb"
    assert _rows(db, "SELECT count(*), count(DISTINCT order_id), min(order_id), "
                     "max(order_id) FROM kafka_orders") == [(4000, 4000, 0, 3999)]
    assert sum(committed(kafka_bootstrap, group, topic).values()) == 4000
    # Masked, typed, and the Kafka coordinates are columns.
    email, amount, partition, offset = _rows(
        db, "SELECT email, amount, kafka_partition, kafka_offset FROM kafka_orders "
            "WHERE order_id = 7")[0]
    assert len(email) == 64 and "@" not in email
    assert str(amount) == "7.07"
    assert 0 <= partition < 3 and offset >= 0
    kinds = dict(_rows(db, "SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'kafka_orders'"))
    assert kinds["amount"] == "DECIMAL(12,2)"
    assert kinds["created_at"] == "TIMESTAMP WITH TIME ZONE"


def test_dteg_run_reads_what_is_there_and_commits(kafka_bootstrap: str, workdir: Path, dteg,  # noqa: F811
                                                  monkeypatch) -> None:
    topic = create_topic(kafka_bootstrap, unique("orders"), partitions=2)
    monkeypatch.setenv("DTEG_KAFKA_TOPIC", topic)
    monkeypatch.setenv("DTEG_KAFKA_GROUP", unique("group"))
    produce(kafka_bootstrap, topic, _orders(0, 500))
    pipeline = workdir / "kafka_to_duckdb.yaml"
    code, report, out = dteg("run", str(pipeline))
    assert code == 0, out
    assert report["read"] == 500 and report["reconciles"] is True
    produce(kafka_bootstrap, topic, _orders(500, 120))
    code, report, out = dteg("run", str(pipeline))
    assert code == 0, out
    assert report["read"] == 120  # the second run starts where the first committed
    code, report, out = dteg("run", str(pipeline))
    assert report["read"] == 0, out


def test_poison_json_goes_to_dead_letters_and_the_stream_goes_on(
        kafka_bootstrap: str, workdir: Path, dteg, monkeypatch) -> None:  # noqa: F811
    topic = create_topic(kafka_bootstrap, unique("orders"), partitions=1)
    monkeypatch.setenv("DTEG_KAFKA_TOPIC", topic)
    monkeypatch.setenv("DTEG_KAFKA_GROUP", unique("group"))
    good = [json.dumps(o).encode() for o in _orders(0, 10)]
    values: list[bytes | None] = [
        good[0], b'{"order_id": 1, "email": oops}', good[1], b"[1, 2]", good[2],
        b'{"order_id": "seven", "email": "x@example.com"}', good[3], b"", good[4],
        b'{"order_id": 5, "email": "a@example.com"} {"order_id": 6}', good[5],
        b'{"order_id": 9, "created_at": "not a time"}', None, good[6],
        b"\xff\xfe not utf-8", b'{\n  "order_id": 42,\n  "email": "pretty@example.com"\n}',
    ]
    produce(kafka_bootstrap, topic, values)
    code, report, out = dteg("stream", str(workdir / "kafka_to_duckdb.yaml"),
                             "--max-records", str(len(values)))
    assert code == 0, out
    assert report["loaded"] == 8, out  # good[0..6] and the pretty-printed one
    dead = sorted(_dead(workdir, "kafka_to_duckdb"), key=lambda d: d["source"])
    assert [d["source"] for d in dead] == [f"{topic}/0@{i}" for i in
                                           (1, 11, 12, 14, 3, 5, 7, 9)]
    reasons = {int(d["source"].rsplit("@", 1)[1]): d["reason"] for d in dead}
    assert reasons[1].startswith("invalid JSON")
    assert reasons[3] == "expected a JSON object, found an array"
    assert reasons[5] == "column `order_id`: 'seven' is not a valid int64"
    assert reasons[7].startswith("invalid JSON")
    assert reasons[9].startswith("invalid JSON")  # two objects in one message
    assert "not a time" in reasons[11]
    assert reasons[12] == "the message has no value (a tombstone)"
    assert reasons[14].startswith("invalid JSON")
    assert all(d["step"] == "extract" for d in dead)
    # Dead letters are masked like loaded rows: the raw email does not appear.
    assert "x@example.com" not in json.dumps(dead)
    assert report["read"] == report["loaded"] + report["dead_lettered"]


_AVRO = {"type": "record", "name": "Order", "fields": [
    {"name": "order_id", "type": "long"}, {"name": "country", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}
_OTHER = {"type": "record", "name": "Login", "fields": [
    {"name": "user", "type": "string"}, {"name": "ok", "type": "boolean"},
    {"name": "tries", "type": "int"}, {"name": "note", "type": "string"}]}


def _avro(schema: dict[str, Any], record: dict[str, Any], schema_id: int | None = None) -> bytes:
    out = io.BytesIO()
    if schema_id is not None:
        out.write(b"\x00" + struct.pack(">I", schema_id))
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


@pytest.mark.parametrize("wire", ["raw", "confluent"])
def test_avro_topic_with_wrong_schema_messages(kafka_bootstrap: str, tmp_path: Path, dteg,  # noqa: F811
                                               wire: str) -> None:
    topic = create_topic(kafka_bootstrap, unique("avro"), partitions=2)
    (tmp_path / "order.avsc").write_text(json.dumps(_AVRO))
    at = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
    schema_id = 7 if wire == "confluent" else None
    good = [_avro(_AVRO, {"order_id": i, "country": "kr", "amount": i * 1.5, "at": at},
                  schema_id) for i in range(100)]
    wrong = _avro(_OTHER, {"user": "mallory", "ok": True, "tries": 3, "note": "x" * 40},
                  8 if wire == "confluent" else None)
    produce(kafka_bootstrap, topic, [*good[:50], wrong, *good[50:]], partition=1)
    pipeline = tmp_path / "avro.yaml"
    pipeline.write_text(f"""
pipeline:
  name: avro_stream
  steps:
    - extract:
        type: kafka
        config:
          bootstrap_servers: {kafka_bootstrap}
          topic: {topic}
          format: avro
          avro_schema_file: order.avsc
          avro_wire: {wire}
          {"avro_schema_id: 7" if wire == "confluent" else ""}
          metadata: [partition, offset, key, headers]
    - load:
        type: parquet
        config: {{path: out/orders/, mode: append}}
""")
    code, report, out = dteg("stream", str(pipeline), "--max-records", "101")
    assert code == 0, out
    assert report["loaded"] == 100 and report["dead_lettered"] == 1, out
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out" / "orders")
    assert sorted(table.column("order_id").to_pylist()) == list(range(100))
    assert str(table.schema.field("at").type) == "timestamp[ms, tz=UTC]"
    dead = _dead(tmp_path, "avro_stream")
    assert [d["source"] for d in dead] == [f"{topic}/1@50"]
    expected = "schema id 8, expected 7" if wire == "confluent" else "not valid Avro"
    assert expected in dead[0]["reason"]


def test_until_offsets_makes_a_bounded_stream(kafka_bootstrap: str, tmp_path: Path,  # noqa: F811
                                              dteg) -> None:
    topic = create_topic(kafka_bootstrap, unique("until"), partitions=2)
    produce(kafka_bootstrap, topic, [{"n": i} for i in range(40)], partition=0)
    produce(kafka_bootstrap, topic, [{"n": i} for i in range(40, 60)], partition=1)
    pipeline = tmp_path / "until.yaml"
    pipeline.write_text(f"""
pipeline:
  name: until_stream
  steps:
    - extract:
        type: kafka
        config:
          bootstrap_servers: {kafka_bootstrap}
          topic: {topic}
          until: {{offsets: {{0: 25, 1: 5}}}}
    - load:
        type: jsonl
        config: {{path: out/rows/, mode: append}}
""")
    code, report, out = dteg("stream", str(pipeline))
    assert code == 0, out
    assert report["read"] == 30
    assert report["stopped_by"].startswith("until")


def test_seed_component_id_resolves_to_the_kafka_source(tmp_path: Path) -> None:
    from dteg.spec.phases import compile_spec

    spec = compile_spec(text="""
pipeline:
  name: seedlike
  components:
    marketplace:
      - {name: kafka-extractor, version: "1.0.0", source: "dteg://streaming/kafka"}
  steps:
    - extract:
        type: "dteg://kafka-extractor"
        config: {bootstrap_servers: "kafka:9092", topic_name: "data-stream"}
    - load:
        type: jsonl
        config: {path: out/x.jsonl}
""", path=tmp_path / "seedlike.yaml")
    assert spec.step("extract").component == "kafka"
    assert not spec.warnings


def test_stream_refuses_bounded_pipelines_and_a_second_process(workdir: Path, dteg) -> None:
    code, _report, out = dteg("stream", str(workdir / "quickstart.yaml"))
    assert code == 2
    assert "this pipeline cannot run as a stream" in out
    assert "`csv` is a bounded source" in out
    # A live process holds the pipeline's stream lock: a second stream is refused.
    import os

    lock = workdir / ".dteg" / "streams" / "kafka_to_duckdb" / "lock.json"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getppid(), "run_id": "stream-other"}))
    code, _report, out = dteg("stream", str(workdir / "kafka_to_duckdb.yaml"))
    assert code == 2
    assert f"another `dteg stream` (pid {os.getppid()}, run stream-other) is running" in out


def test_start_and_until_by_timestamp(kafka_bootstrap: str, tmp_path: Path, dteg) -> None:  # noqa: F811
    topic = create_topic(kafka_bootstrap, unique("times"), partitions=1)
    base = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    stamps = [int((base + dt.timedelta(seconds=i)).timestamp() * 1000) for i in range(30)]
    produce(kafka_bootstrap, topic, [{"n": i} for i in range(30)], timestamps=stamps)
    (tmp_path / "t.yaml").write_text(f"""
pipeline:
  name: by_time
  steps:
    - extract:
        type: kafka
        config:
          bootstrap_servers: {kafka_bootstrap}
          topic: {topic}
          start: "2026-11-20T00:00:10Z"
          until: "2026-11-20T00:00:20Z"
          metadata: [timestamp]
    - load: {{type: jsonl, config: {{path: out/rows/, mode: append}}}}
""")
    code, report, out = dteg("stream", str(tmp_path / "t.yaml"))
    assert code == 0, out
    rows = [json.loads(line) for f in (tmp_path / "out" / "rows").glob("*.jsonl")
            for line in f.read_text().splitlines()]
    assert sorted(r["n"] for r in rows) == list(range(10, 20))
    assert report["stopped_by"].startswith("until")


def test_string_values_with_keys_and_headers_as_columns(kafka_bootstrap: str,  # noqa: F811
                                                        tmp_path: Path, dteg) -> None:
    topic = create_topic(kafka_bootstrap, unique("text"), partitions=1)
    produce(kafka_bootstrap, topic, [f"line {i}" for i in range(5)],
            keys=[f"k{i}" for i in range(5)], headers=[("trace", b"abc")])
    (tmp_path / "s.yaml").write_text(f"""
pipeline:
  name: text_stream
  steps:
    - extract:
        type: kafka
        config:
          bootstrap_servers: {kafka_bootstrap}
          topic: {topic}
          format: string
          value_column: line
          metadata: [topic, partition, offset, timestamp, key, headers]
    - load: {{type: parquet, config: {{path: out/lines/, mode: append}}}}
""")
    code, _report, out = dteg("stream", str(tmp_path / "s.yaml"), "--max-records", "5")
    assert code == 0, out
    import pyarrow.parquet as pq

    rows = sorted(pq.read_table(tmp_path / "out" / "lines").to_pylist(),
                  key=lambda r: r["kafka_offset"])
    assert rows[2]["line"] == "line 2" and rows[2]["kafka_key"] == "k2"
    assert rows[2]["kafka_topic"] == topic and rows[2]["kafka_partition"] == 0
    assert rows[2]["kafka_headers"] == [("trace", "abc")]
    assert rows[2]["kafka_timestamp"].year >= 2026


def test_quality_threshold_stops_the_stream_before_the_commit(kafka_bootstrap: str,  # noqa: F811
                                                              tmp_path: Path, dteg) -> None:
    topic = create_topic(kafka_bootstrap, unique("quality"), partitions=1)
    group = unique("group")
    produce(kafka_bootstrap, topic, [{"id": i, "email": None if i % 2 else f"u{i}@x.io"}
                                     for i in range(100)])
    (tmp_path / "q.yaml").write_text(f"""
pipeline:
  name: gated
  quality:
    validation_rules: [{{type: null_check, columns: [email]}}]
    max_invalid_ratio: 0.1
  steps:
    - extract:
        type: kafka
        config: {{bootstrap_servers: {kafka_bootstrap}, topic: {topic}, group_id: {group}}}
    - load: {{type: duckdb, config: {{database: q.duckdb, table: rows}}}}
""")
    code, _report, out = dteg("stream", str(tmp_path / "q.yaml"), "--max-records", "100")
    assert code == 1, out
    assert "max_invalid_ratio" in out or "invalid" in out
    assert not (tmp_path / "q.duckdb").exists()
    assert all(v < 0 for v in committed(kafka_bootstrap, group, topic).values())


DBT_PROJECT = {
    "dbt_project.yml": "name: stream\nversion: '1.0'\nprofile: stream\n"
                       "models:\n  stream:\n    +materialized: table\n",
    "models/sources.yml": "version: 2\nsources:\n  - name: stream\n    schema: main\n"
                          "    tables: [{name: kafka_orders}]\n"
                          "models:\n  - name: orders_per_country\n    columns:\n"
                          "      - name: country\n        data_tests: [not_null, unique]\n",
    "models/orders_per_country.sql": "select country, count(*) as orders\n"
                                     "from {{ source('stream', 'kafka_orders') }}\n"
                                     "group by country\n",
}


def test_dbt_runs_in_a_stream_after_committed_micro_batches(
        kafka_bootstrap: str, workdir: Path, dteg, monkeypatch) -> None:  # noqa: F811
    topic = create_topic(kafka_bootstrap, unique("orders"), partitions=1)
    monkeypatch.setenv("DTEG_KAFKA_TOPIC", topic)
    monkeypatch.setenv("DTEG_KAFKA_GROUP", unique("group"))
    for name, text in DBT_PROJECT.items():
        path = workdir / "dbt_stream" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    pipeline = workdir / "kafka_dbt.yaml"
    pipeline.write_text((workdir / "kafka_to_duckdb.yaml").read_text() + (
        "    - transform:\n        type: dbt\n        project_dir: dbt_stream\n"
        "        tests: true\n        after_batches: 1\n"))
    produce(kafka_bootstrap, topic, _orders(0, 300))
    code, _report, out = dteg("stream", str(pipeline), "--max-records", "300")
    assert code == 0, out
    assert "transform: dbt build: 3 passed, 0 failed" in out  # the model and its 2 tests
    rows = dict(_rows(workdir / ".dteg" / "warehouse.duckdb",
                      "SELECT country, orders FROM orders_per_country"))
    assert rows == {"kr": 100, "jp": 100, "us": 100}
