"""The BigQuery sink through the real google-cloud-bigquery client against
``fake_bigquery`` (a recording HTTP server on 127.0.0.1 that applies the requests to DuckDB).
These tests check the request path — datasets, tables with partitioning and clustering,
Parquet load jobs, query jobs, job ids that make retries safe, streaming inserts with
insertIds — and compare what landed with a direct DuckDB load. Nothing here ran against
BigQuery itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from dteg.testing import build, context
from tests.integration.fake_bigquery import FakeBigQuery, start
from tests.integration.service_guard import require_module
from tests.integration.test_file_connectors import failed, make_pipeline, ok, write
from tests.integration.test_s3 import orders_csv

SCHEMA = {"amount": "decimal(12,2)", "ordered_on": "date"}


@pytest.fixture
def fake_bq() -> Iterator[FakeBigQuery]:
    require_module("google.cloud.bigquery", "`make setup` installs dteg[bigquery]")
    fake, server = start()
    yield fake
    server.shutdown()


def bq_load(fake: FakeBigQuery, name: str, **config: Any) -> dict[str, Any]:
    return {"load": {"name": name, "type": "bigquery", "input": "orders", "config": {
        "project": "proj", "dataset": "sales", "api_endpoint": fake.endpoint,
        "retry": {"initial_seconds": 0.05}, **config}}}


def orders(batch_rows: int = 65_536) -> dict[str, Any]:
    return {"extract": {"name": "orders", "type": "csv", "config": {
        "path": "data/orders.csv", "schema": SCHEMA, "batch_rows": batch_rows}}}


def duck_load(table: str, **config: Any) -> dict[str, Any]:
    return {"load": {"name": f"duck_{table}", "type": "duckdb", "input": "orders",
                     "config": {"database": "wh.duckdb", "table": table, **config}}}


def duck(database: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_batch_load_creates_a_partitioned_clustered_table_equal_to_duckdb(
        tmp_path, run_pipeline, fake_bq) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(1000))
    pipeline = make_pipeline(tmp_path, orders(), duck_load("orders"), bq_load(
        fake_bq, "to_bq", table="orders", partitioning={"field": "ordered_on", "type": "MONTH"},
        clustering=["region"]))
    report = ok(run_pipeline(pipeline))
    assert {s["name"]: s["loaded"] for s in report["steps"] if s["kind"] == "load"} == {
        "duck_orders": 1000, "to_bq": 1000}
    assert fake_bq.rows("sales.orders") == duck(tmp_path / "wh.duckdb",
                                                "SELECT * FROM orders ORDER BY 1")
    [created] = [r for r in fake_bq.calls("POST", "/datasets/sales/tables")
                 if r.body["tableReference"]["tableId"] == "orders"]
    assert created.body["timePartitioning"] == {"type": "MONTH", "field": "ordered_on"}
    assert created.body["clustering"] == {"fields": ["region"]}
    assert [(f["name"], f["type"]) for f in created.body["schema"]["fields"]] == [
        ("id", "INT64"), ("customer", "STRING"), ("region", "STRING"), ("amount", "NUMERIC"),
        ("ordered_on", "DATE")]
    [upload] = fake_bq.calls("POST", "/upload/bigquery/v2/projects/proj/jobs")
    assert upload.query["uploadType"] == ["multipart"]
    load = fake_bq.jobs[next(j for j in fake_bq.jobs if j.endswith("_load"))]
    assert load["configuration"]["load"]["sourceFormat"] == "PARQUET"
    assert load["configuration"]["load"]["destinationTable"]["tableId"].startswith(
        "orders__dteg_")
    [commit] = [j for j in fake_bq.jobs.values() if "query" in j["configuration"]]
    assert commit["configuration"]["query"]["query"].startswith("INSERT INTO `proj.sales.orders`")
    assert not [t for t in fake_bq.tables if "__dteg_" in t]  # the work table is dropped


def test_replace_and_merge_match_duckdb(tmp_path, run_pipeline, fake_bq) -> None:
    targets = [duck_load("replaced", mode="replace"), duck_load("merged", mode="merge", key="id"),
               bq_load(fake_bq, "bq_replace", table="replaced", mode="replace"),
               bq_load(fake_bq, "bq_merge", table="merged", mode="merge", key="id")]
    write(tmp_path, "data/orders.csv", orders_csv(300))
    ok(run_pipeline(make_pipeline(tmp_path, orders(), *targets)))
    lines = ["id,customer,region,amount,ordered_on", "5,first,x,1.00,2024-02-01",
             "5,second,y,2.00,2024-02-02"]
    lines += [f"{i},n{i},west,{i / 4:.2f},2024-03-01" for i in range(200, 401)]
    write(tmp_path, "data/orders.csv", "\n".join(lines) + "\n")
    ok(run_pipeline(make_pipeline(tmp_path, orders(), *targets)))
    for table in ("replaced", "merged"):
        assert fake_bq.rows(f"sales.{table}", "1, 2") == duck(
            tmp_path / "wh.duckdb", f"SELECT * FROM {table} ORDER BY 1, 2"), table
    merges = [j["configuration"]["query"]["query"] for j in fake_bq.jobs.values()
              if "MERGE" in j["configuration"].get("query", {}).get("query", "")]
    assert len(merges) == 2 and "ROW_NUMBER() OVER (PARTITION BY `id`" in merges[0]


def test_a_retried_commit_waits_for_the_existing_job_and_does_not_double(tmp_path,
                                                                         fake_bq) -> None:
    config = {"project": "proj", "dataset": "sales", "table": "t",
              "api_endpoint": fake_bq.endpoint}
    writer = build("sink", "bigquery", config, context(tmp_path, step="bq"))
    part = writer.open_part("p1")
    part.write(pa.RecordBatch.from_pylist([{"id": i} for i in range(10)]))
    result = part.close()
    assert result is not None
    writer.commit([result])
    # The same commit again (as after a lost answer): the job id exists → 409 → no new job.
    again = build("sink", "bigquery", config, context(tmp_path, step="bq"))
    part = again.open_part("p1")
    part.write(pa.RecordBatch.from_pylist([{"id": i} for i in range(10)]))
    result = part.close()
    assert result is not None
    again.commit([result])
    assert len(fake_bq.rows("sales.t")) == 10
    assert any(r.method == "POST" and r.path.endswith("/jobs") for r in fake_bq.requests)
    assert len([j for j in fake_bq.jobs if j.endswith("_commit")]) == 1


def test_transient_errors_are_retried_without_duplicates(tmp_path, run_pipeline,
                                                          fake_bq) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(50))
    fake_bq.fail("POST", "/projects/proj/jobs", status=503, times=2)
    fake_bq.fail("GET", "/tables/orders", status=500, times=1)
    ok(run_pipeline(make_pipeline(tmp_path, orders(), bq_load(fake_bq, "bq", table="orders"))))
    assert [r[0] for r in fake_bq.rows("sales.orders")] == list(range(1, 51))
    assert fake_bq.failures == []


def test_stream_strategy_sends_streaming_inserts_with_insert_ids(tmp_path, run_pipeline,
                                                                  fake_bq) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(2500))
    fake_bq.fail("POST", "/insertAll", status=503, times=1)
    pipeline = make_pipeline(tmp_path, orders(batch_rows=250), duck_load("events"), bq_load(
        fake_bq, "bq", table="events", strategy="stream", batch={"rows": 1000}))
    report = ok(run_pipeline(pipeline))
    assert report["steps"][-1]["loaded"] == 2500 or any(
        s["name"] == "bq" and s["loaded"] == 2500 for s in report["steps"])
    inserts = fake_bq.calls("POST", "/insertAll")
    assert len(inserts) >= 5
    ids = [r["insertId"] for call in inserts if "rows" in call.body
           for r in call.body["rows"]]
    assert len(ids) > len(set(ids))  # the failed request was sent again with the same ids
    assert fake_bq.rows("sales.events") == duck(tmp_path / "wh.duckdb",
                                                "SELECT * FROM events ORDER BY 1")
    assert not fake_bq.calls("POST", "/upload/")  # no load jobs in stream mode


def test_schema_evolution_and_config_errors(tmp_path, run_pipeline, fake_bq) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(5))
    ok(run_pipeline(make_pipeline(tmp_path, orders(), bq_load(fake_bq, "bq", table="t"))))
    write(tmp_path, "data/orders.csv", "id,customer,region,amount,ordered_on,channel\n"
          "6,c,r,1.00,2024-01-01,web\n")
    out = failed(run_pipeline(make_pipeline(tmp_path, orders(), bq_load(
        fake_bq, "bq", table="t", schema_evolution="freeze"))), code=1)
    assert "new column(s) channel (STRING)" in out
    ok(run_pipeline(make_pipeline(tmp_path, orders(), bq_load(fake_bq, "bq", table="t"))))
    assert fake_bq.rows("sales.t")[-1][-1] == "web"
    out = failed(run_pipeline(make_pipeline(tmp_path, orders(), bq_load(
        fake_bq, "bq", table="t", mode="merge", strategy="stream", key="id"))), code=2)
    assert "`strategy: stream` sends rows as streaming inserts" in out


def test_replace_with_zero_rows_leaves_an_empty_target_with_the_schema(tmp_path, run_pipeline,
                                                                       fake_bq) -> None:
    targets = [bq_load(fake_bq, "bq_replace", table="replaced", mode="replace"),
               bq_load(fake_bq, "bq_append", table="appended"),
               bq_load(fake_bq, "bq_merge", table="merged", mode="merge", key="id")]
    write(tmp_path, "data/orders.csv", orders_csv(20))
    ok(run_pipeline(make_pipeline(tmp_path, orders(), *targets)))
    write(tmp_path, "data/orders.csv", "id,customer,region,amount,ordered_on\n")
    fresh = bq_load(fake_bq, "bq_new", table="fresh", mode="replace")
    code, report, out = run_pipeline(make_pipeline(tmp_path, orders(), *targets, fresh))
    assert code == 0, out
    assert report is not None and (report["read"], report["loaded"]) == (0, 0)
    assert "(0 rows)" in out
    assert fake_bq.rows("sales.replaced") == []  # replaced by no rows
    assert len(fake_bq.rows("sales.appended")) == 20  # append added nothing
    assert len(fake_bq.rows("sales.merged")) == 20
    assert fake_bq.rows("sales.fresh") == []  # created, empty
    for table in ("replaced", "fresh"):
        fields = fake_bq.tables[f"sales.{table}"]["schema"]["fields"]
        assert [f["name"] for f in fields] == ["id", "customer", "region", "amount",
                                               "ordered_on"]
    assert not [t for t in fake_bq.tables if "__dteg_" in t]  # no work table left
