"""MongoDB documents ↔ Arrow conversions (no server: bson values built here). Decimal128 is
covered only here: FerretDB 1.24 does not implement it (it drops the connection)."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest
from bson import Decimal128, ObjectId
from bson.timestamp import Timestamp

from dteg.connectors.mongodb.config import SinkConfig, SourceConfig
from dteg.connectors.mongodb.documents import (
    Column,
    declared_columns,
    sample_columns,
    to_batch,
    to_documents,
)

UTC = dt.timezone.utc
OID = ObjectId("6b101313506e3c9f2239ef26")


def test_sampled_schema_maps_bson_kinds() -> None:
    docs = [
        {"_id": OID, "n": 1, "x": 1, "price": Decimal128("1.25"), "at": dt.datetime(2026, 1, 1),
         "doc": {"a": [1, 2]}, "flag": True, "mixed": "a"},
        {"_id": ObjectId(), "n": 2, "x": 2.5, "price": Decimal128("10.125"), "at": None,
         "doc": [1], "flag": False, "mixed": 3},
    ]
    columns = {c.name: c for c in sample_columns(docs)}
    assert next(iter(columns)) == "_id"
    assert columns["_id"].arrow == pa.string()
    assert columns["n"].arrow == pa.int64() and columns["x"].arrow == pa.float64()
    assert columns["price"].arrow == pa.decimal128(38, 3)
    assert columns["at"].arrow == pa.timestamp("us", UTC)
    assert columns["doc"].json and columns["mixed"].arrow == pa.string()
    out = to_batch(docs, list(columns.values()))
    assert out.misfits == [] and out.kept == [0, 1]
    row = out.batch.to_pylist()[0]
    assert row["_id"] == str(OID)
    assert row["price"] == decimal.Decimal("1.250")
    assert row["at"] == dt.datetime(2026, 1, 1, tzinfo=UTC)  # BSON dates are UTC
    assert row["doc"] == '{"a":[1,2]}' and row["mixed"] == "a"
    assert out.batch.to_pylist()[1]["mixed"] == "3"


def test_declared_schema_flattens_dotted_fields_and_reports_misfits() -> None:
    columns = declared_columns({"_id": "string", "address.city": "string",
                                "amount": "decimal(6,2)", "at": "timestamp", "n": "int32",
                                "tags": "json", "seen": "timestamptz"})
    assert [c.name for c in columns] == ["_id", "address_city", "amount", "at", "n", "tags",
                                         "seen"]
    docs = [
        {"_id": OID, "address": {"city": "Seoul"}, "amount": Decimal128("12.5"),
         "at": dt.datetime(2026, 1, 1, 9, tzinfo=UTC), "n": 7, "tags": ["a"],
         "seen": Timestamp(1767225600, 1)},
        {"_id": 2, "amount": Decimal128("1.234")},  # too many digits after the point
        {"_id": 3, "n": 2**40},  # does not fit int32
        {"_id": 4, "address": "not a document", "at": "yesterday"},
    ]
    out = to_batch(docs, columns)
    assert out.kept == [0]
    first = out.batch.to_pylist()[0]
    assert first["address_city"] == "Seoul" and first["amount"] == decimal.Decimal("12.50")
    assert first["at"] == dt.datetime(2026, 1, 1, 9)  # naive UTC for `timestamp`
    assert first["tags"] == '["a"]'
    assert first["seen"] == dt.datetime(2026, 1, 1, tzinfo=UTC)
    reasons = {index: (column, reason) for index, column, reason in out.misfits}
    assert reasons[1] == ("amount", "field `amount`: expected at most 2 digits after the point "
                          "(decimal128(6, 2)), found decimal 1.234")
    assert reasons[2][0] == "n" and "fits int32" in reasons[2][1]
    # A missing sub-document field is null; a value of the wrong kind is a misfit.
    assert reasons[3] == ("at", 'field `at`: expected a date/time, found str "yesterday"')


def test_rows_to_documents_parse_json_columns_and_report_bad_json() -> None:
    batch = pa.record_batch({
        "id": pa.array([1, 2], pa.int64()),
        "items": pa.array(['[{"sku": "a"}]', "{not json"], pa.string()),
        "price": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(6, 2)),
        "day": pa.array([dt.date(2026, 1, 2), None], pa.date32()),
    })
    (doc, problem), (_, bad) = to_documents(batch, ["items"])
    assert problem is None and doc["items"] == [{"sku": "a"}]
    assert doc["price"] == Decimal128("1.50")
    assert doc["day"] == dt.datetime(2026, 1, 2, tzinfo=UTC)  # BSON has no date type
    assert bad is not None and bad.startswith("column `items` is not JSON")


def test_config_errors_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="mongodb:// or mongodb"):
        SourceConfig.model_validate({"url": "postgresql://x/db", "collection": "c"})
    with pytest.raises(ValueError, match="name the database"):
        SourceConfig.model_validate({"url": "mongodb://127.0.0.1:27017/", "collection": "c"})
    with pytest.raises(ValueError, match="needs `key:`"):
        SinkConfig.model_validate({"url": "mongodb://h/db", "collection": "c", "mode": "merge"})
    with pytest.raises(ValueError, match="aggregation `pipeline:` is read in one piece"):
        SourceConfig.model_validate({"url": "mongodb://h/db", "collection": "c",
                                     "pipeline": [], "partitions": 2})
    config = SourceConfig.model_validate({"url": "mongodb://u:secret@h:1/db", "collection": "c"})
    assert "secret" not in repr(config) and config.endpoint().describe() == "u@h:1/db"
    assert Column("a", ("a",), pa.string()) == Column("a", ("a",), pa.string())
