"""Pure parts of the database connectors, state and backfill (no server, no Beam)."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from dteg.components.plan import Bounds, decode_value, encode_value
from dteg.connectors import schema_evolution as se
from dteg.connectors.mysql.dialect import column_type as mysql_type
from dteg.connectors.postgres.config import SinkConfig, SourceConfig
from dteg.connectors.postgres.dialect import column_type as pg_type
from dteg.connectors.sql.config import url_of
from dteg.connectors.sql.reader import partition_bounds
from dteg.errors import ConfigError, ConnectorError
from dteg.run.backfill import parse_bound, parse_step, plan_partitions

INT32, INT64 = se.ColumnType("int", 32), se.ColumnType("int", 64)
TEXT = se.ColumnType("text")


def test_new_column_is_added_under_evolve_and_named_under_freeze() -> None:
    table = {"id": INT64}
    data = {"id": INT32, "email": TEXT}
    plan = se.plan(table, data, "evolve", table_name="t", step="load")
    assert plan.add == [("email", TEXT)] and not plan.widen
    with pytest.raises(ConnectorError, match=r"freeze.*new column\(s\) email \(text\)"):
        se.plan(table, data, "freeze", table_name="t", step="load")
    assert se.plan(table, data, "discard_columns", table_name="t", step="load").discard == [
        "email"]


def test_widening_under_evolve_refused_under_freeze() -> None:
    table = {"id": INT32, "amount": se.ColumnType("decimal", 10, 2), "name": se.ColumnType(
        "text", 10)}
    data = {"id": INT64, "amount": se.ColumnType("decimal", 12, 4), "name": TEXT}
    plan = se.plan(table, data, "evolve", table_name="t", step="load")
    assert {c: str(new) for c, _old, new in plan.widen} == {
        "id": str(INT64), "amount": "decimal(12)", "name": "text"}
    assert plan.widen[1][2].scale == 4
    with pytest.raises(ConnectorError, match=r"changed column\(s\) id"):
        se.plan(table, data, "freeze", table_name="t", step="load")
    with pytest.raises(ConnectorError, match="too narrow"):
        se.plan(table, data, "discard_columns", table_name="t", step="load")


def test_narrower_data_fits_and_lossy_changes_always_fail() -> None:
    assert se.plan({"id": INT64}, {"id": INT32}, "freeze", table_name="t", step="s").add == []
    with pytest.raises(ConnectorError, match=r"id \(table: int\(64\), data: text\)"):
        se.plan({"id": INT64}, {"id": TEXT}, "evolve", table_name="t", step="s")
    assert se.widened(INT64, se.ColumnType("float", 64)) is None  # int64 in a double: lossy


def test_arrow_types_map_to_column_types() -> None:
    assert se.arrow_column_type(pa.int8()) == se.ColumnType("int", 16, name="int8")
    assert se.arrow_column_type(pa.uint64()).kind == "decimal"
    assert se.arrow_column_type(pa.timestamp("us", "UTC")).kind == "timestamptz"
    assert se.arrow_column_type(pa.dictionary(pa.int32(), pa.string())).kind == "text"
    assert se.arrow_column_type(pa.list_(pa.int32())).kind == "other"


def test_database_type_names_parse() -> None:
    assert pg_type("numeric(12,2)") == se.ColumnType("decimal", 12, 2, "numeric(12,2)")
    assert pg_type("character varying(20)").size == 20
    assert pg_type("timestamp(3) with time zone").kind == "timestamptz"
    assert pg_type("numeric").kind == "other"
    assert mysql_type("tinyint", "tinyint(1)", None, 3, 0).kind == "bool"
    assert mysql_type("int", "int(10) unsigned", None, 10, 0) == se.ColumnType(
        "int", 64, name="int(10) unsigned")
    assert mysql_type("longtext", "longtext", 4294967295, None, None).size is None


def test_partition_bounds_cover_the_range() -> None:
    assert partition_bounds(1, 100, 4) == [26, 51, 76]
    assert partition_bounds(5, 5, 4) == []
    assert partition_bounds(1, 2, 8) == [2]
    start = dt.datetime(2024, 1, 1)
    cuts = partition_bounds(start, start + dt.timedelta(hours=4), 4)
    assert cuts[0] == start + dt.timedelta(hours=1) and len(cuts) == 3
    assert partition_bounds(dt.date(2024, 1, 1), dt.date(2024, 1, 11), 2) == [
        dt.date(2024, 1, 6)]
    with pytest.raises(TypeError):
        partition_bounds("a", "z", 2)


@pytest.mark.parametrize("value", [
    5, 2.5, decimal.Decimal("1.10"), "abc", dt.date(2024, 2, 29),
    dt.datetime(2024, 1, 1, 12, 0, 0, 123456),
    dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)])
def test_cursor_values_round_trip_through_json(value: object) -> None:
    assert decode_value(encode_value(value)) == value
    bounds = Bounds("c", value, value)
    assert Bounds.from_json(bounds.to_json()) == bounds


def test_backfill_partitions() -> None:
    days = plan_partitions(parse_bound("2024-01-01", "--start"),
                           parse_bound("2024-01-04", "--end"), parse_step("1d", False))
    assert [(p.lower.day, p.upper.day) for p in days] == [(1, 2), (2, 3), (3, 4)]
    hours = plan_partitions(dt.date(2024, 1, 1), dt.date(2024, 1, 2), parse_step("6h", False))
    assert len(hours) == 4 and isinstance(hours[0].lower, dt.datetime)
    ids = plan_partitions(0, 25, parse_step("10", True))
    assert [(p.lower, p.upper) for p in ids] == [(0, 10), (10, 20), (20, 25)]
    with pytest.raises(ConfigError, match="must come before"):
        plan_partitions(5, 1, 1)
    with pytest.raises(ConfigError, match="not a step"):
        parse_step("1y", False)


def test_connection_from_url_or_fields_never_shows_the_password() -> None:
    config = SourceConfig.model_validate(
        {"url": "postgresql+psycopg://me:p%40ss@db.example:6543/shop", "table": "orders"})
    endpoint = config.endpoint()
    assert (endpoint.user, endpoint.password, endpoint.host, endpoint.port,
            endpoint.database) == ("me", "p@ss", "db.example", 6543, "shop")
    assert "p@ss" not in repr(config) and "p%40ss" not in repr(config)
    assert url_of("postgresql", endpoint) == "postgresql://me:p%40ss@db.example:6543/shop"
    fields = SinkConfig.model_validate({"host": "h", "user": "u", "password": "secret",
                                        "database": "d", "table": "t"})
    assert fields.endpoint().port == 5432 and "secret" not in repr(fields)
    with pytest.raises(ValueError, match="must start with one of postgresql"):
        SourceConfig.model_validate({"url": "mysql://u:p@h/d", "table": "t"})
    with pytest.raises(ValueError, match="needs `key:`"):
        SinkConfig.model_validate({"host": "h", "table": "t", "mode": "merge"})


def test_throttle_and_splits_with_a_fake_database(tmp_path) -> None:
    """`max_rows_per_second` is shared by the partitions; each range is one query."""
    import time
    from pathlib import Path

    from dteg.components.contracts import RunContext
    from dteg.connectors.sql.dialect import SourceColumn
    from dteg.connectors.sql.reader import SqlReader

    class Fake:
        product = "fake"
        endpoint = SourceConfig.model_validate({"host": "h", "table": "t"}).endpoint()
        queries: list[str] = []  # noqa: RUF012

        def connect(self) -> Fake:
            return self

        def rollback(self) -> None: ...

        def close(self) -> None: ...

        def cursor(self) -> Fake:
            return self

        def execute(self, sql: str) -> None:
            self.queries.append(sql)

        def fetchall(self) -> list[tuple[int, int]]:
            return [(1, 400)]

        def quote(self, name: str) -> str:
            return f'"{name}"'

        def table_name(self, name: str) -> str:
            return self.quote(name)

        def literal(self, value: object) -> str:
            return str(value)

        def table_exists(self, con: object, table: str) -> bool:
            return True

        def probe(self, con: object, relation: str) -> list[SourceColumn]:
            return [SourceColumn("id", se.ColumnType("int", 64), '"id"', pa.int64())]

        def read(self, con: object, sql: str, columns: object, batch_rows: int):
            yield pa.record_batch({"id": pa.array(range(200), pa.int64())})

    config = SourceConfig.model_validate({"host": "h", "table": "t", "partitions": 2,
                                          "partition_column": "id",
                                          "max_rows_per_second": 800})
    ctx = RunContext(pipeline="p", step="s", base_dir=Path(tmp_path), run_id="r")
    reader = SqlReader(config, ctx, Fake())  # type: ignore[arg-type]
    splits = reader.splits()
    assert [s.sql.split("WHERE ")[1] for s in splits] == [
        '("id" < 201 OR "id" IS NULL)', '"id" >= 201']
    assert all(s.rows_per_second == 400 for s in splits)
    started = time.monotonic()
    rows = sum(b.num_rows for s in splits for b in reader.read(s))
    assert rows == 400
    assert time.monotonic() - started >= 0.9  # 2 × 200 rows at 400 rows/s each ≈ 1 s
