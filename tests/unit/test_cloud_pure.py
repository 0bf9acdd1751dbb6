"""Pure parts of the cloud loaders: retries, partition paths, S3 globs, type mappings."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dteg.connectors import partitions, retry
from dteg.connectors.bigquery.dialect import bq_type
from dteg.connectors.object_store import _translate
from dteg.connectors.snowflake import dialect as sf
from dteg.errors import ConnectorError


class Refused(ConnectionRefusedError):
    pass


def test_transient_failures_are_retried_then_succeed() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Refused("connection refused")
        return "ok"

    assert retry.call(flaky, what="x", sleep=waits.append) == "ok"
    assert len(calls) == 3 and len(waits) == 2 and waits[1] > waits[0] * 1.1


def test_other_failures_are_not_retried() -> None:
    calls: list[int] = []

    def wrong() -> None:
        calls.append(1)
        raise ValueError("bad credentials")

    with pytest.raises(ValueError):
        retry.call(wrong, what="x", sleep=lambda _: None)
    assert calls == [1]


def test_exhausted_retries_name_the_operation() -> None:
    def down() -> None:
        raise Refused("connection refused")

    settings = retry.RetrySettings(attempts=3, initial_seconds=0)
    with pytest.raises(ConnectorError) as info:
        retry.call(down, what="uploading s3://b/k", settings=settings, step="load",
                   sleep=lambda _: None)
    assert "uploading s3://b/k failed after 3 tries" in str(info.value)
    assert info.value.retriable


def test_http_status_and_codes_decide_what_is_transient() -> None:
    class ClientError(Exception):
        def __init__(self, status: int, code: str) -> None:
            super().__init__(code)
            self.response = {"Error": {"Code": code},
                             "ResponseMetadata": {"HTTPStatusCode": status}}

    assert retry.is_transient(ClientError(503, "ServiceUnavailable"))
    assert retry.is_transient(ClientError(400, "SlowDown"))
    assert retry.is_transient(ClientError(429, "Whatever"))
    assert not retry.is_transient(ClientError(403, "AccessDenied"))
    assert not retry.is_transient(ClientError(404, "NoSuchBucket"))


def test_partition_templates() -> None:
    layout = partitions.parse("s3://b/orders/dt={date}/h={hour}/c={country}/")
    assert (layout.root, layout.columns) == ("s3://b/orders/", ("country",))
    run = partitions.run_values("20261126T071500Z-abc123")
    assert (run["date"], run["hour"]) == ("2026-11-26", "07")
    batch = pa.RecordBatch.from_pylist([
        {"id": 1, "country": "KR"}, {"id": 2, "country": None}, {"id": 3, "country": "a b/c"}])
    split = dict(layout.split(batch, run, step="s"))
    assert sorted(split) == ["dt=2026-11-26/h=07/c=KR", "dt=2026-11-26/h=07/c=__HIVE_DEFAULT_"
                             "PARTITION__", "dt=2026-11-26/h=07/c=a%20b%2Fc"]
    assert split["dt=2026-11-26/h=07/c=KR"].to_pylist() == [{"id": 1}]
    assert not partitions.parse("out/orders/").partitioned
    with pytest.raises(ConnectorError, match="no such column"):
        partitions.parse("o/{nope}/").split(batch, run, step="s")
    with pytest.raises(ConnectorError, match="after a fixed folder"):
        partitions.parse("s3://{date}/")


def test_s3_globs() -> None:
    one = _translate("s3://b/data/*.csv")
    assert one.fullmatch("s3://b/data/a.csv") and not one.fullmatch("s3://b/data/x/a.csv")
    deep = _translate("s3://b/data/**/*.parquet")
    assert deep.fullmatch("s3://b/data/dt=1/x.parquet")
    assert _translate("s3://b/f?.json").fullmatch("s3://b/f1.json")


def test_type_mappings() -> None:
    assert bq_type(pa.decimal128(12, 2)) == "NUMERIC"
    assert bq_type(pa.decimal128(38, 20)) == "BIGNUMERIC"
    assert bq_type(pa.timestamp("us")) == "DATETIME"
    assert bq_type(pa.timestamp("us", tz="UTC")) == "TIMESTAMP"
    assert sf.ddl(sf.column_type(pa.int32())) == "NUMBER(38,0)"
    assert sf.ddl(sf.column_type(pa.list_(pa.int64()))) == "VARIANT"
    assert sf.ddl(sf.column_type(pa.timestamp("us", tz="UTC"))) == "TIMESTAMP_TZ"
    assert sf.parse("TEXT", None, None, 16_777_216).size is None
    assert sf.can_alter(sf.parse("NUMBER", 10, 2, None), sf.parse("NUMBER", 20, 2, None))
    assert not sf.can_alter(sf.parse("NUMBER", 10, 2, None), sf.parse("NUMBER", 20, 4, None))
