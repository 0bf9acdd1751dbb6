"""The Snowflake sink against fakesnow's server mode (a real HTTP server on 127.0.0.1 that the
unmodified snowflake-connector-python logs in to, sends SQL to and PUTs files to), compared
with the same rows loaded into DuckDB.

What fakesnow does not cover (so neither do these tests): real warehouses, roles and
privileges, key-pair/OAuth/SSO login, the cloud storage behind internal stages (PUT goes to
fakesnow's own HTTP endpoint), `REMOVE` of staged files (fakesnow cannot parse it; the sink
only logs that), Snowflake's exact type coercions and error texts, and its concurrency."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from dteg.testing import build, context
from tests.integration.cloud_services import FakeSnowflake, fake_snowflake
from tests.integration.test_file_connectors import extract, failed, load, make_pipeline, ok, write
from tests.integration.test_s3 import orders_csv

__all__ = ["fake_snowflake"]
SCHEMA = {"amount": "decimal(12,2)", "ordered_on": "date"}


def sf_load(server: FakeSnowflake, name: str, **config: Any) -> dict[str, Any]:
    return {"load": {"name": name, "type": "snowflake", "input": "orders",
                     "config": server.settings(**config)}}


def orders(path: str = "data/orders.csv") -> dict[str, Any]:
    return {"extract": {"name": "orders", "type": "csv",
                        "config": {"path": path, "schema": SCHEMA}}}


def duck(database: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_append_creates_the_table_from_arrow_and_matches_duckdb(tmp_path, run_pipeline,
                                                                fake_snowflake) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(1000))
    pipeline = make_pipeline(
        tmp_path, orders(),
        {"load": {"name": "warehouse", "type": "duckdb", "input": "orders",
                  "config": {"database": "wh.duckdb", "table": "orders"}}},
        sf_load(fake_snowflake, "to_snowflake", schema="APPEND_T", table="orders"))
    report = ok(run_pipeline(pipeline))
    assert {s["name"]: s["loaded"] for s in report["steps"] if s["kind"] == "load"} == {
        "warehouse": 1000, "to_snowflake": 1000}
    got = fake_snowflake.query('SELECT "ID", "CUSTOMER", "REGION", "AMOUNT", "ORDERED_ON" '
                               'FROM ANALYTICS.APPEND_T.ORDERS ORDER BY "ID"')
    want = duck(tmp_path / "wh.duckdb", "SELECT * FROM orders ORDER BY id")
    assert got == want
    assert got[0] == (1, "c001", "south", decimal.Decimal("1.25"), dt.date(2024, 1, 2))
    types = fake_snowflake.query(
        "SELECT column_name, data_type, numeric_precision, numeric_scale FROM "
        "ANALYTICS.information_schema.columns WHERE table_schema = 'APPEND_T' AND "
        "table_name = 'ORDERS' ORDER BY ordinal_position")
    assert types == [("ID", "NUMBER", 38, 0), ("CUSTOMER", "TEXT", None, None),
                     ("REGION", "TEXT", None, None), ("AMOUNT", "NUMBER", 12, 2),
                     ("ORDERED_ON", "DATE", None, None)]
    ok(run_pipeline(pipeline))  # append: a second run adds the rows again
    assert fake_snowflake.query("SELECT count(*) FROM ANALYTICS.APPEND_T.ORDERS") == [(2000,)]


def test_replace_and_merge_match_duckdb(tmp_path, run_pipeline, fake_snowflake) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(300))
    targets = [
        {"load": {"name": "duck_replace", "type": "duckdb", "input": "orders", "config": {
            "database": "wh.duckdb", "table": "replaced", "mode": "replace"}}},
        {"load": {"name": "duck_merge", "type": "duckdb", "input": "orders", "config": {
            "database": "wh.duckdb", "table": "merged", "mode": "merge", "key": "id"}}},
        sf_load(fake_snowflake, "sf_replace", schema="MODES", table="replaced",
                mode="replace"),
        sf_load(fake_snowflake, "sf_merge", schema="MODES", table="merged", mode="merge",
                key="id"),
    ]
    ok(run_pipeline(make_pipeline(tmp_path, orders(), *targets)))
    # Second run: ids 200..400 with new amounts, and id 5 twice (the last one wins).
    lines = ["id,customer,region,amount,ordered_on", "5,first,x,1.00,2024-02-01",
             "5,second,y,2.00,2024-02-02"]
    lines += [f"{i},n{i},west,{i / 4:.2f},2024-03-01" for i in range(200, 401)]
    write(tmp_path, "data/orders.csv", "\n".join(lines) + "\n")
    ok(run_pipeline(make_pipeline(tmp_path, orders(), *targets)))
    for table in ("replaced", "merged"):
        got = fake_snowflake.query(f"SELECT * FROM ANALYTICS.MODES.{table.upper()} "
                                   'ORDER BY "ID", "CUSTOMER"')
        want = duck(tmp_path / "wh.duckdb", f"SELECT * FROM {table} ORDER BY id, customer")
        assert got == want, table
    merged = dict((r[0], r[1]) for r in fake_snowflake.query(
        'SELECT "ID", "CUSTOMER" FROM ANALYTICS.MODES.MERGED'))
    assert len(merged) == 400 and merged[5] == "second" and merged[250] == "n250"
    assert fake_snowflake.query("SELECT count(*) FROM ANALYTICS.MODES.REPLACED") == [(203,)]


def test_schema_evolution_adds_columns_and_freeze_refuses(tmp_path, run_pipeline,
                                                          fake_snowflake) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(10))
    ok(run_pipeline(make_pipeline(tmp_path, orders(),
                                  sf_load(fake_snowflake, "sf", schema="EVOLVE", table="t"))))
    write(tmp_path, "data/orders.csv", "id,customer,region,amount,ordered_on,channel\n"
          "11,c,r,1.00,2024-01-01,web\n")
    frozen = sf_load(fake_snowflake, "sf", schema="EVOLVE", table="t",
                     schema_evolution="freeze")
    out = failed(run_pipeline(make_pipeline(tmp_path, orders(), frozen)), code=1)
    assert "new column(s) CHANNEL (string)" in out
    ok(run_pipeline(make_pipeline(tmp_path, orders(),
                                  sf_load(fake_snowflake, "sf", schema="EVOLVE", table="t"))))
    rows = fake_snowflake.query('SELECT "ID", "CHANNEL" FROM ANALYTICS.EVOLVE.T ORDER BY 1')
    assert rows[0] == (1, None) and rows[-1] == (11, "web") and len(rows) == 11


def test_stream_strategy_commits_micro_batches(tmp_path, run_pipeline, fake_snowflake) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(5000))
    pipeline = make_pipeline(
        tmp_path, {"extract": {"name": "orders", "type": "csv", "config": {
            "path": "data/orders.csv", "schema": SCHEMA, "batch_rows": 500}}},
        sf_load(fake_snowflake, "sf", schema="STREAM", table="events", strategy="stream",
                batch={"rows": 1000}))
    report = ok(run_pipeline(pipeline))
    assert report["loaded"] == 5000
    history = fake_snowflake.query(
        "SELECT count(*) FROM ANALYTICS.information_schema.load_history "
        "WHERE table_name = 'EVENTS'")
    assert history == [(5,)]  # five COPY commits of 1,000 rows
    assert fake_snowflake.query(
        'SELECT count(*), count(DISTINCT "ID") FROM ANALYTICS.STREAM.EVENTS') == [(5000, 5000)]


def test_a_retried_commit_does_not_double_rows(tmp_path, fake_snowflake) -> None:
    # A commit whose answer was lost is run again by the retry loop: Snowflake remembers the
    # staged files the table loaded, so the second COPY skips them.
    config = fake_snowflake.settings(schema="RETRY", table="t")
    writer = build("sink", "snowflake", config, context(tmp_path, step="sf"))
    part = writer.open_part("p1")
    part.write(pa.RecordBatch.from_pylist([{"id": i, "v": f"x{i}"} for i in range(100)]))
    result = part.close()
    assert result is not None
    assert writer.commit([result]).rows == 100
    writer.commit([result])
    assert fake_snowflake.query("SELECT count(*) FROM ANALYTICS.RETRY.T") == [(100,)]


def test_config_errors_name_the_problem(tmp_path, run_pipeline, fake_snowflake) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(3))
    bad = sf_load(fake_snowflake, "sf", schema="X", table="t", mode="merge")
    out = failed(run_pipeline(make_pipeline(tmp_path, orders(), bad)), code=2)
    assert "`mode: merge` needs `key:`" in out
    stream_replace = sf_load(fake_snowflake, "sf", schema="X", table="t", mode="replace",
                             strategy="stream")
    out = failed(run_pipeline(make_pipeline(tmp_path, orders(), stream_replace)), code=2)
    assert "needs `mode: append` or `merge`" in out
    assert "snow" not in out.replace("snowflake", "")  # the password is never printed


def test_the_plain_load_helper_names_a_snowflake_step(tmp_path) -> None:
    assert load("snowflake", table="t")["load"]["type"] == "snowflake"
    assert extract("csv", path="x")["extract"]["type"] == "csv"


def test_replace_with_zero_rows_leaves_an_empty_target_with_the_schema(tmp_path, run_pipeline,
                                                                       fake_snowflake) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(20))
    targets = [
        sf_load(fake_snowflake, "sf_replace", schema="ZERO", table="replaced", mode="replace"),
        sf_load(fake_snowflake, "sf_append", schema="ZERO", table="appended"),
        sf_load(fake_snowflake, "sf_merge", schema="ZERO", table="merged", mode="merge",
                key="id"),
    ]
    ok(run_pipeline(make_pipeline(tmp_path, orders(), *targets)))
    write(tmp_path, "data/orders.csv", "id,customer,region,amount,ordered_on\n")
    fresh = sf_load(fake_snowflake, "sf_new", schema="ZERO", table="fresh", mode="replace")
    code, report, out = run_pipeline(make_pipeline(tmp_path, orders(), *targets, fresh))
    assert code == 0, out
    assert report is not None and (report["read"], report["loaded"]) == (0, 0)
    assert "(0 rows)" in out
    count = "SELECT count(*) FROM ANALYTICS.ZERO.{}"
    assert fake_snowflake.query(count.format("REPLACED")) == [(0,)]
    assert fake_snowflake.query(count.format("APPENDED")) == [(20,)]
    assert fake_snowflake.query(count.format("MERGED")) == [(20,)]
    assert fake_snowflake.query(count.format("FRESH")) == [(0,)]
    columns = ("SELECT column_name FROM ANALYTICS.information_schema.columns WHERE "
               "table_schema = 'ZERO' AND table_name = '{}' ORDER BY ordinal_position")
    for table in ("REPLACED", "FRESH"):
        assert [r[0] for r in fake_snowflake.query(columns.format(table))] == [
            "ID", "CUSTOMER", "REGION", "AMOUNT", "ORDERED_ON"]
