"""The Kafka sink on the real broker: key from a column, headers, compression, JSON and
Avro values; a delivery failure fails the run."""

from __future__ import annotations

import io
import json
import socket
import struct
from pathlib import Path

import fastavro
import pytest

from tests.integration.kafka_service import (
    consume_all,
    create_topic,
    kafka_bootstrap,  # noqa: F401 - session fixture
    unique,
)

pytestmark = pytest.mark.integration


def _source(tmp_path: Path, n: int) -> None:
    rows = [{"id": i, "user": f"u{i % 7}", "amount": i * 0.5, "region": ["eu", "us"][i % 2]}
            for i in range(n)]
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows))


def test_json_rows_with_key_headers_and_compression(kafka_bootstrap: str, tmp_path: Path,  # noqa: F811
                                                    run_pipeline) -> None:
    topic = create_topic(kafka_bootstrap, unique("out"), partitions=3)
    _source(tmp_path, 1000)
    (tmp_path / "p.yaml").write_text(f"""
pipeline:
  name: to_kafka
  steps:
    - extract: {{type: jsonl, config: {{path: rows.jsonl}}}}
    - load:
        type: kafka
        config:
          bootstrap_servers: {kafka_bootstrap}
          topic: {topic}
          key: user
          headers: {{source: dteg}}
          header_columns: [region]
          compression: zstd
""")
    code, report, out = run_pipeline(tmp_path / "p.yaml")
    assert code == 0, out
    assert report["loaded"] == 1000 and report["reconciles"] is True
    messages = consume_all(kafka_bootstrap, topic, 1000)
    assert len(messages) == 1000
    values = sorted((json.loads(m.value()) for m in messages), key=lambda r: r["id"])
    assert values[3] == {"id": 3, "user": "u3", "amount": 1.5, "region": "us"}
    by_key: dict[bytes, set[int]] = {}
    for m in messages:
        by_key.setdefault(m.key(), set()).add(m.partition())
        assert dict(m.headers())["source"] == b"dteg"
        assert dict(m.headers())["region"] in (b"eu", b"us")
    assert len(by_key) == 7 and all(len(p) == 1 for p in by_key.values())  # key → partition


def test_avro_values_in_confluent_framing(kafka_bootstrap: str, tmp_path: Path,  # noqa: F811
                                          run_pipeline) -> None:
    topic = create_topic(kafka_bootstrap, unique("avro-out"))
    _source(tmp_path, 50)
    (tmp_path / "p.yaml").write_text(f"""
pipeline:
  name: to_kafka_avro
  steps:
    - extract: {{type: jsonl, config: {{path: rows.jsonl}}}}
    - load:
        type: kafka
        config:
          bootstrap_servers: {kafka_bootstrap}
          topic: {topic}
          format: avro
          avro_wire: confluent
          avro_schema_id: 12
""")
    code, _report, out = run_pipeline(tmp_path / "p.yaml")
    assert code == 0, out
    messages = consume_all(kafka_bootstrap, topic, 50)
    value = messages[0].value()
    assert value[0] == 0 and struct.unpack(">I", value[1:5])[0] == 12
    schema = {"type": "record", "name": "load", "fields": [
        {"name": "id", "type": ["null", "long"]}, {"name": "user", "type": ["null", "string"]},
        {"name": "amount", "type": ["null", "double"]},
        {"name": "region", "type": ["null", "string"]}]}
    records = sorted((fastavro.schemaless_reader(io.BytesIO(m.value()[5:]),
                                                 fastavro.parse_schema(schema))
                      for m in messages), key=lambda r: r["id"])
    assert records[0] == {"id": 0, "user": "u0", "amount": 0.0, "region": "eu"}


def test_delivery_failure_fails_the_run(tmp_path: Path, run_pipeline) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _source(tmp_path, 10)
    (tmp_path / "p.yaml").write_text(f"""
pipeline:
  name: nowhere
  steps:
    - extract: {{type: jsonl, config: {{path: rows.jsonl}}}}
    - load:
        type: kafka
        config:
          bootstrap_servers: 127.0.0.1:{port}
          topic: t
          delivery_timeout: 2
          connect_timeout: 1
""")
    code, report, out = run_pipeline(tmp_path / "p.yaml")
    assert code == 1
    assert report["status"] == "failed" and "loaded" not in report
    assert "10 of 10 message(s) to t were not delivered" in out
    assert "Traceback" not in out
