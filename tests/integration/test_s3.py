"""File connectors on S3, against a real S3-compatible server on 127.0.0.1 (moto's server
mode, see ``cloud_services``): formats and compression, partitioned paths, file size targets,
replace/append on object stores, the standard AWS credential chain, fast failure on a wrong
endpoint, micro-batches (``strategy: stream``), and a server stopped and restarted mid-run."""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import fastavro
import pyarrow.parquet as pq
import zstandard

from tests.integration.cloud_services import S3Server, s3_server, slow_s3_server
from tests.integration.test_file_connectors import extract, failed, load, make_pipeline, ok, write

__all__ = ["s3_server", "slow_s3_server"]  # fixtures


def orders_csv(n: int, regions: tuple[str, ...] = ("north", "south", "east")) -> str:
    lines = ["id,customer,region,amount,ordered_on"]
    for i in range(1, n + 1):
        lines.append(f"{i},c{i % 97:03d},{regions[i % len(regions)]},{i * 1.25:.2f},"
                     f"2024-01-{i % 28 + 1:02d}")
    return "\n".join(lines) + "\n"


def s3_load(kind: str, server: S3Server, **config: Any) -> dict[str, Any]:
    return load(kind, **server.settings(), **config)


def s3_extract(kind: str, server: S3Server, **config: Any) -> dict[str, Any]:
    return extract(kind, **server.settings(), **config)


def duck_rows(database: Path, table: str, order: str = "id") -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    finally:
        con.close()


def test_each_format_lands_on_s3_and_reads_back_equal_to_duckdb(tmp_path, run_pipeline,
                                                                 s3_server) -> None:
    bucket = s3_server.bucket("formats")
    write(tmp_path, "data/orders.csv", orders_csv(500))
    targets = {
        "parquet": f"s3://{bucket}/parquet/",
        "jsonl": f"s3://{bucket}/jsonl/orders.jsonl.gz",
        "csv": f"s3://{bucket}/csv/",
        "avro": f"s3://{bucket}/avro/orders.avro",
    }
    schema = {"amount": "decimal(12,2)", "ordered_on": "date"}
    out = make_pipeline(
        tmp_path, {"extract": {"name": "orders", "type": "csv", "config": {
            "path": "data/orders.csv", "schema": schema}}},
        {"load": {"name": "warehouse", "type": "duckdb", "input": "orders",
                  "config": {"database": "wh.duckdb", "table": "orders"}}},
        *[{"load": {"name": f"to_{kind}", "type": kind, "input": "orders", "config": {
            "path": path, **s3_server.settings(),
            **({"compression": "zstd"} if kind == "csv" else {})}}}
          for kind, path in targets.items()])
    report = ok(run_pipeline(out))
    assert {s["name"]: s["loaded"] for s in report["steps"] if s["kind"] == "load"} == {
        "warehouse": 500, "to_parquet": 500, "to_jsonl": 500, "to_csv": 500, "to_avro": 500}
    keys = s3_server.keys(bucket)
    assert [k for k in keys if "dteg-tmp" in k] == []
    assert "jsonl/orders.jsonl.gz" in keys and "avro/orders.avro" in keys
    [csv_key] = [k for k in keys if k.startswith("csv/")]
    assert csv_key.endswith(".csv.zst")
    # What landed, read straight from the server with boto3 (not through dteg).
    parquet_rows = s3_server.parquet(bucket, "parquet/").to_pylist()
    jsonl_rows = [json.loads(x) for x in gzip.decompress(
        s3_server.read(bucket, "jsonl/orders.jsonl.gz")).decode().splitlines()]
    csv_text = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(s3_server.read(bucket, csv_key))).read().decode()
    csv_rows = list(csv.DictReader(io.StringIO(csv_text)))
    avro_rows = list(fastavro.reader(io.BytesIO(s3_server.read(bucket, "avro/orders.avro"))))
    assert len(parquet_rows) == len(jsonl_rows) == len(csv_rows) == len(avro_rows) == 500
    assert str(parquet_rows[0]["amount"]) == jsonl_rows[0]["amount"] == csv_rows[0]["amount"]

    # Each file read back from S3 by dteg into DuckDB equals the direct DuckDB load.
    back = [s3_extract(kind, s3_server, path=(path + "*" if path.endswith("/") else path),
                       **({"schema": schema} if kind in ("csv", "jsonl") else {}))
            for kind, path in targets.items()]
    reference = duck_rows(tmp_path / "wh.duckdb", "orders")
    for kind, step in zip(targets, back, strict=True):
        again = make_pipeline(tmp_path, step, load("duckdb", database=f"{kind}.duckdb",
                                                   table="orders"))
        ok(run_pipeline(again))
        got = duck_rows(tmp_path / f"{kind}.duckdb", "orders")
        assert got == reference, kind


def test_partitioned_paths_and_file_size_targets(tmp_path, run_pipeline, s3_server) -> None:
    bucket = s3_server.bucket("partitions")
    write(tmp_path, "data/orders.csv", orders_csv(1000))
    path = f"s3://{bucket}/orders/dt={{date}}/region={{region}}/"
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv", batch_rows=100),
                             s3_load("parquet", s3_server, path=path, max_file_rows=150))
    report = ok(run_pipeline(pipeline))
    day = f"{report['run_id'][:4]}-{report['run_id'][4:6]}-{report['run_id'][6:8]}"
    keys = s3_server.keys(bucket)
    folders = sorted({k.rsplit("/", 1)[0] for k in keys})
    assert folders == [f"orders/dt={day}/region={r}" for r in ("east", "north", "south")]
    per_file = [pq.read_metadata(io.BytesIO(s3_server.read(bucket, k))).num_rows for k in keys]
    assert max(per_file) == 150 and sum(per_file) == 1000
    # The partition column lives in the path only (Hive style); DuckDB reads it back from there.
    table = s3_server.parquet(bucket, f"orders/dt={day}/region=north/")
    assert "region" not in table.column_names
    assert table.num_rows == len([i for i in range(1, 1001) if i % 3 == 0])
    local = tmp_path / "copy"
    for k in keys:
        write(local, k, s3_server.read(bucket, k))
    con = duckdb.connect()
    counts = con.execute(
        f"SELECT region, count(*), min(dt) = max(dt) FROM read_parquet('{local}/orders/**/*."
        "parquet', hive_partitioning = true) GROUP BY region ORDER BY region").fetchall()
    assert counts == [("east", 333, True), ("north", 333, True), ("south", 334, True)]


def test_max_file_bytes_rolls_part_files(tmp_path, run_pipeline, s3_server) -> None:
    bucket = s3_server.bucket("sizes")
    write(tmp_path, "data/orders.csv", orders_csv(20_000))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv", batch_rows=1000),
                             s3_load("jsonl", s3_server, path=f"s3://{bucket}/log/",
                                     max_file_bytes=200_000))
    ok(run_pipeline(pipeline))
    sizes = [len(s3_server.read(bucket, k)) for k in s3_server.keys(bucket, "log/")]
    assert len(sizes) > 5
    # A file closes once it passes the target, after the batch that crossed it.
    assert all(s < 200_000 + 120_000 for s in sizes), sizes
    assert sum(len(s3_server.read(bucket, k).splitlines())
               for k in s3_server.keys(bucket, "log/")) == 20_000


def test_replace_publishes_new_files_then_deletes_old_ones(tmp_path, run_pipeline,
                                                           s3_server) -> None:
    bucket = s3_server.bucket("replace")
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key="orders/part-from-before.parquet", Body=b"old")
    s3.put_object(Bucket=bucket, Key="orders-archive/keep.parquet", Body=b"other folder")
    write(tmp_path, "data/orders.csv", orders_csv(300))
    target = s3_load("parquet", s3_server, path=f"s3://{bucket}/orders/", max_file_rows=100)
    first = ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                                          target)))
    keys = s3_server.keys(bucket, "orders/")
    assert len(keys) == 3 and all(first["run_id"] in k for k in keys)
    assert s3_server.keys(bucket, "orders-archive/") == ["orders-archive/keep.parquet"]

    # A failing run changes nothing and leaves no staged object behind.
    bad = make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                        {"map": {"columns": {"x": "no_such_column + 1"}}}, target)
    failed(run_pipeline(bad), code=1)
    assert s3_server.keys(bucket, "orders/") == keys
    assert [k for k in s3_server.keys(bucket) if "dteg-tmp" in k] == []

    write(tmp_path, "data/orders.csv", orders_csv(120))
    second = ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                                           target)))
    keys = s3_server.keys(bucket, "orders/")
    assert len(keys) == 2 and all(second["run_id"] in k for k in keys)
    assert s3_server.parquet(bucket, "orders/").num_rows == 120
    assert [k for k in s3_server.keys(bucket) if "dteg-tmp" in k] == []


def test_append_and_mode_error_on_s3(tmp_path, run_pipeline, s3_server) -> None:
    bucket = s3_server.bucket("append")
    write(tmp_path, "data/orders.csv", orders_csv(50))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                             s3_load("csv", s3_server, path=f"s3://{bucket}/log/",
                                     mode="append"))
    ok(run_pipeline(pipeline))
    ok(run_pipeline(pipeline))
    keys = s3_server.keys(bucket, "log/")
    assert len(keys) == 2
    rows = [r for k in keys for r in csv.DictReader(io.StringIO(
        s3_server.read(bucket, k).decode()))]
    assert sorted(int(r["id"]) for r in rows) == sorted(list(range(1, 51)) * 2)
    once = make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                         s3_load("csv", s3_server, path=f"s3://{bucket}/log/", mode="error"))
    out = failed(run_pipeline(once), code=1)
    assert f"s3://{bucket}/log/ already exists and `mode: error` is set" in out


def test_credentials_and_endpoint_from_the_standard_aws_chain(tmp_path, run_pipeline,
                                                              s3_server, monkeypatch) -> None:
    bucket = s3_server.bucket("chain")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dteg")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dteg-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    write(tmp_path, "data/orders.csv", orders_csv(10))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                             load("parquet", path=f"s3://{bucket}/o.parquet"))
    ok(run_pipeline(pipeline))
    assert s3_server.parquet(bucket, "o.parquet").num_rows == 10


def test_an_unreachable_endpoint_fails_fast_with_a_clear_message(tmp_path,
                                                                  run_pipeline) -> None:
    from tests.integration.cloud_services import free_port

    write(tmp_path, "data/orders.csv", orders_csv(10))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv"), load(
        "parquet", path="s3://nowhere/o/", endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="k", secret_access_key="s", region="us-east-1",
        retry={"attempts": 3, "initial_seconds": 0.1}))
    started = time.monotonic()
    out = failed(run_pipeline(pipeline), code=1)
    assert time.monotonic() - started < 60
    assert "uploading s3://nowhere/.o.dteg-tmp-" in out and "failed after 3 tries" in out
    assert "secret" not in out.replace("secret_access_key", "")


def test_stream_strategy_publishes_micro_batches(tmp_path, run_pipeline, s3_server) -> None:
    bucket = s3_server.bucket("stream")
    write(tmp_path, "data/orders.csv", orders_csv(5000))
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/orders.csv", batch_rows=500),
        s3_load("parquet", s3_server, path=f"s3://{bucket}/events/", mode="append",
                strategy="stream", batch={"rows": 1000}))
    report = ok(run_pipeline(pipeline))
    assert report["loaded"] == 5000
    keys = s3_server.keys(bucket, "events/")
    assert len(keys) == 5
    ids = s3_server.parquet(bucket, "events/").column("id").to_pylist()
    assert sorted(ids) == list(range(1, 5001))
    assert [k for k in s3_server.keys(bucket) if "dteg-tmp" in k] == []


def _stop_when(server: S3Server, bucket: str, marker: str, outage: float,
               log: list[str]) -> threading.Thread:
    """Stop the server once a key containing ``marker`` exists; start it again later."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if any(marker in k for k in server.keys(bucket)):
                    break
            except Exception:  # the server may be busy; keep looking
                pass
            time.sleep(0.05)
        else:
            log.append("marker never appeared")
            return
        server.stop()
        log.append("stopped")
        time.sleep(outage)
        server.start()
        log.append("started")

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_server_stopped_and_restarted_mid_run_loses_and_doubles_nothing(
        tmp_path, run_pipeline, slow_s3_server, caplog) -> None:
    server = slow_s3_server
    bucket = server.bucket("outage")
    write(tmp_path, "data/orders.csv", orders_csv(30_000))
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/orders.csv", batch_rows=500),
        load("parquet", path=f"s3://{bucket}/orders/", max_file_rows=1000,
             **server.settings()))
    events: list[str] = []
    # First outage while parts are being staged, second while the commit publishes them.
    _stop_when(server, bucket, "dteg-tmp", outage=2.0, log=events)
    report = ok(run_pipeline(pipeline))
    assert events == ["stopped", "started"]  # both happened before the run ended
    assert any("retrying in" in r.getMessage() for r in caplog.records)
    caplog.clear()
    keys = server.keys(bucket, "orders/")
    assert len(keys) == 30
    ids = server.parquet(bucket, "orders/").column("id").to_pylist()
    assert sorted(ids) == list(range(1, 30_001))  # nothing lost, nothing doubled
    assert report["loaded"] == 30_000
    assert [k for k in server.keys(bucket) if "dteg-tmp" in k] == []

    # Again, with the outage during the commit (the first published key triggers it).
    events.clear()
    server.client().delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in keys]})
    _stop_when(server, bucket, "orders/part-", outage=2.0, log=events)
    report = ok(run_pipeline(pipeline))
    assert events == ["stopped", "started"]  # both happened before the run ended
    assert any("retrying in" in r.getMessage() for r in caplog.records)
    caplog.clear()
    ids = server.parquet(bucket, "orders/").column("id").to_pylist()
    assert sorted(ids) == list(range(1, 30_001))
    assert len(server.keys(bucket, "orders/")) == 30


def test_replace_with_zero_rows_leaves_an_empty_target_with_the_schema(tmp_path, run_pipeline,
                                                                       s3_server) -> None:
    bucket = s3_server.bucket("zero")
    s3 = s3_server.client()
    header = "id,customer,region,amount,ordered_on\n"
    targets = [s3_load("parquet", s3_server, path=f"s3://{bucket}/parts/"),
               s3_load("csv", s3_server, path=f"s3://{bucket}/one/orders.csv"),
               s3_load("jsonl", s3_server, path=f"s3://{bucket}/log/", mode="append")]
    s3.put_object(Bucket=bucket, Key="in/orders.csv", Body=orders_csv(50).encode())
    source = s3_extract("csv", s3_server, path=f"s3://{bucket}/in/orders.csv",
                        schema={"id": "int64"})
    ok(run_pipeline(make_pipeline(tmp_path, source, *targets)))
    log_keys = s3_server.keys(bucket, "log/")
    s3.put_object(Bucket=bucket, Key="in/orders.csv", Body=header.encode())
    code, report, out = run_pipeline(make_pipeline(tmp_path, source, *targets))
    assert code == 0, out
    assert report is not None and (report["read"], report["loaded"]) == (0, 0)
    [part] = s3_server.keys(bucket, "parts/")
    assert report["run_id"] in part
    body = s3.get_object(Bucket=bucket, Key=part)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 0
    assert table.schema.names == ["id", "customer", "region", "amount", "ordered_on"]
    assert str(table.schema.field("id").type) == "int64"
    text = s3.get_object(Bucket=bucket, Key="one/orders.csv")["Body"].read().decode()
    assert text.replace('"', "") == header
    assert s3_server.keys(bucket, "log/") == log_keys  # append added nothing
    assert [k for k in s3_server.keys(bucket) if "dteg-tmp" in k] == []
