"""Kafka message decoding and offset planning, without a broker."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import fastavro
import pyarrow as pa
import pytest
from pydantic import ValidationError

from dteg.connectors.kafka.config import SinkConfig, SourceConfig
from dteg.connectors.kafka.decode import AvroDecoder, JsonDecoder, TextDecoder
from dteg.connectors.kafka.offsets import share


def _bad(decoded) -> dict[int, str]:
    return dict(decoded.bad)


def test_json_fast_path_keeps_message_order_and_infers_types() -> None:
    values = [json.dumps({"id": i, "name": f"n{i}", "at": "2026-11-26T10:00:00Z"}).encode()
              for i in range(1000)]
    decoded = JsonDecoder(None).decode(values)
    assert decoded.bad == []
    assert decoded.kept == list(range(1000))
    assert decoded.table.column("id").to_pylist() == list(range(1000))
    assert str(decoded.table.schema.field("at").type).startswith("timestamp")


def test_json_poison_messages_each_get_a_reason() -> None:
    values = [b'{"id": 1}', b'{"id": oops}', b"null", b"42", b'"text"', b"", None,
              b'{"id": 2} {"id": 3}', b'{"id": 4}', b"\xff\xfe", b'{\n "id": 5\n}']
    decoded = JsonDecoder(None).decode(values)
    bad = _bad(decoded)
    assert decoded.kept == [0, 8, 10]
    assert decoded.table.column("id").to_pylist() == [1, 4, 5]
    assert bad[1].startswith("invalid JSON")
    assert bad[2] == "expected a JSON object, found null"
    assert bad[3] == "expected a JSON object, found a number"
    assert bad[4] == "expected a JSON object, found a string"
    assert bad[5].startswith("invalid JSON")
    assert bad[6] == "the message has no value (a tombstone)"
    assert bad[7].startswith("invalid JSON: Extra data")
    assert bad[9].startswith("invalid JSON")


def test_json_declared_schema_types_and_casts() -> None:
    decoder = JsonDecoder({"id": "int", "amount": "decimal(10,2)", "at": "timestamptz",
                           "ok": "bool"})
    values = [b'{"id": 1, "amount": "1.50", "at": "2026-11-26T10:00:00Z", "ok": true, "x": 1}',
              b'{"id": 1.5, "amount": "2", "at": "2026-11-26T10:00:00Z"}',
              b'{"id": 3, "amount": "abc", "at": "2026-11-26T10:00:00Z"}',
              b'{"id": "four"}',
              b'{"id": 5, "at": "yesterday"}']
    decoded = decoder.decode(values)
    bad = _bad(decoded)
    assert decoded.kept == [0]
    assert decoded.table.schema.names == ["id", "amount", "at", "ok"]  # `x` is not declared
    assert str(decoded.table.schema.field("amount").type) == "decimal128(10, 2)"
    assert bad[1] == "column `id`: 1.5 is not a valid int64"
    assert "'abc' is not a valid decimal128(10, 2)" in bad[2]
    assert bad[3] == "column `id`: 'four' is not a valid int64"
    assert "'yesterday'" in bad[4]


def test_json_many_type_conflicts_fall_back_to_text_columns() -> None:
    values = [json.dumps({"v": i if i % 2 else f"s{i}"}).encode() for i in range(300)]
    decoded = JsonDecoder(None).decode(values)
    # Without a declared schema nothing is lost: the mixed column is kept as JSON text.
    assert decoded.bad == []
    assert decoded.table.column("v").to_pylist()[:3] == ["s0", "1", "s2"]
    # One clash in a poll is a poison message.
    decoded = JsonDecoder(None).decode([b'{"v": 1}'] * 5 + [b'{"v": "x"}'])
    assert decoded.bad == [(5, "column `v`: a string where earlier messages have a number "
                               "(declare its type under `schema:`)")]


def test_json_null_only_columns_become_text() -> None:
    decoded = JsonDecoder(None).decode([b'{"a": null, "b": 1}'])
    assert decoded.table.schema.field("a").type == pa.string()


def test_text_and_bytes_formats() -> None:
    decoded = TextDecoder("value", binary=False).decode([b"hello", b"\xff", None])
    assert decoded.table.column("value").to_pylist() == ["hello", None]
    assert decoded.kept == [0, 2]
    assert decoded.bad[0][0] == 1 and "UTF-8" in decoded.bad[0][1]
    raw = TextDecoder("value", binary=True).decode([b"\xff", None])
    assert raw.table.column("value").to_pylist() == [b"\xff", None]


_SCHEMA = {"type": "record", "name": "R", "fields": [
    {"name": "id", "type": "long"}, {"name": "name", "type": "string"}]}


def _datum(record: dict, schema: dict = _SCHEMA, prefix: bytes = b"") -> bytes:
    out = io.BytesIO()
    out.write(prefix)
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def test_avro_raw_and_confluent_framing(tmp_path: Path) -> None:
    config = SourceConfig(bootstrap_servers="x:1", topic="t", format="avro", avro_schema=_SCHEMA)
    decoder = AvroDecoder(config, tmp_path)
    other = {"type": "record", "name": "O", "fields": [
        {"name": "a", "type": "double"}, {"name": "b", "type": "double"}]}
    values = [_datum({"id": 1, "name": "x"}), _datum({"a": 1.0, "b": 2.0}, other), b"\x01",
              None]
    decoded = decoder.decode(values)
    assert decoded.table.to_pylist() == [{"id": 1, "name": "x"}]
    bad = _bad(decoded)
    assert set(bad) == {1, 2, 3}
    assert all(r.startswith("not valid Avro") for i, r in bad.items() if i != 3)

    framed = SourceConfig(bootstrap_servers="x:1", topic="t", format="avro",
                          avro_schema=json.dumps(_SCHEMA), avro_wire="confluent",
                          avro_schema_id=3)
    decoder = AvroDecoder(framed, tmp_path)
    good = _datum({"id": 2, "name": "y"}, prefix=b"\x00" + struct.pack(">I", 3))
    wrong_id = _datum({"id": 2, "name": "y"}, prefix=b"\x00" + struct.pack(">I", 4))
    decoded = decoder.decode([good, wrong_id, b"\x07abc"])
    assert decoded.kept == [0]
    assert _bad(decoded)[1] == "written with schema id 4, expected 3"
    assert "not Confluent-framed" in _bad(decoded)[2]


def test_source_config_checks() -> None:
    assert SourceConfig(bootstrap_servers="k:9092", topic_name="s").topics() == ["s"]
    assert SourceConfig(bootstrap_servers="k", topic=["a", "b"]).topics() == ["a", "b"]
    with pytest.raises(ValidationError, match="give `topic:`"):
        SourceConfig(bootstrap_servers="k")
    with pytest.raises(ValidationError, match="not earliest, latest or an ISO timestamp"):
        SourceConfig(bootstrap_servers="k", topic="t", start="yesterday")
    with pytest.raises(ValidationError, match="format avro needs exactly one"):
        SourceConfig(bootstrap_servers="k", topic="t", format="avro")
    config = SourceConfig(bootstrap_servers="k", topic="t", until={"offsets": {0: 5, "1": 7}})
    assert config.until_offsets() == {("t", 0): 5, ("t", 1): 7}
    config = SourceConfig(bootstrap_servers="k", topic=["a", "b"],
                          until={"offsets": {"a": {0: 1}, "b": {2: 3}}})
    assert config.until_offsets() == {("a", 0): 1, ("b", 2): 3}
    with pytest.raises(ValidationError, match="needs `value_column:`"):
        SinkConfig(bootstrap_servers="k", topic="t", format="string")
    settings = SinkConfig(bootstrap_servers="k", topic="t").client_settings()
    assert settings["enable.idempotence"] is True and settings["acks"] == "all"


def test_share_gives_every_partition_its_turn() -> None:
    a, b, c = ("t", 0), ("t", 1), ("t", 2)
    assert share({a: 10, b: 1000, c: 1000}, 100) == {a: 10, b: 45, c: 45}
    assert share({a: 0, b: 5, c: 7}, 100) == {a: 0, b: 5, c: 7}
    assert share({a: 50, b: 50}, None) == {a: 50, b: 50}
    result = share({a: 3, b: 3, c: 3}, 2)
    assert sum(result.values()) == 2
