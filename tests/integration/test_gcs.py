"""File connectors on ``gs://`` paths, against a real fake-gcs-server on 127.0.0.1
(``scripts/services/gcs``) through the real google-cloud-storage client: every format written
and read back, partitioned folders, globs, replace, a run killed with SIGKILL while staging
and while publishing, and clear errors for a missing bucket and bad credentials."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from tests.integration.cloud_services import REPO
from tests.integration.gcs_service import GcsServer, gcs_server
from tests.integration.test_file_connectors import extract, failed, load, make_pipeline, ok, write
from tests.integration.test_s3 import duck_rows, orders_csv

__all__ = ["gcs_server"]  # fixture


def gcs_load(kind: str, server: GcsServer, **config: Any) -> dict[str, Any]:
    return load(kind, **server.settings(), **config)


def gcs_extract(kind: str, server: GcsServer, **config: Any) -> dict[str, Any]:
    return extract(kind, **server.settings(), **config)


def test_each_format_lands_on_gcs_and_reads_back_equal(tmp_path, run_pipeline,
                                                       gcs_server) -> None:
    bucket = gcs_server.bucket("formats")
    write(tmp_path, "data/orders.csv", orders_csv(500))
    schema = {"id": "int64", "customer": "string", "region": "string", "amount": "float64",
              "ordered_on": "date"}
    ok(run_pipeline(make_pipeline(
        tmp_path, extract("csv", path="data/orders.csv", schema=schema),
        load("duckdb", database="ref.duckdb", table="orders"))))
    reference = duck_rows(tmp_path / "ref.duckdb", "orders")
    targets = {"csv": "orders.csv.gz", "jsonl": "orders.jsonl", "parquet": "orders/",
               "avro": "orders.avro"}
    for kind, rel in targets.items():
        path = f"gs://{bucket}/{kind}/{rel}"
        ok(run_pipeline(make_pipeline(
            tmp_path, extract("csv", path="data/orders.csv", schema=schema),
            gcs_load(kind, gcs_server, path=path, **({"max_file_rows": 200}
                                                      if rel.endswith("/") else {})))))
        assert [k for k in gcs_server.keys(bucket) if "dteg-tmp" in k] == []
        source = path + "*.parquet" if rel.endswith("/") else path
        back = gcs_extract(kind, gcs_server, path=source,
                           **({"schema": schema} if kind in ("csv", "jsonl") else {}))
        ok(run_pipeline(make_pipeline(tmp_path, back, load(
            "duckdb", database=f"{kind}.duckdb", table="orders"))))
        assert duck_rows(tmp_path / f"{kind}.duckdb", "orders") == reference, kind
    assert len(gcs_server.keys(bucket, "parquet/orders/")) == 3
    assert gcs_server.read(bucket, "csv/orders.csv.gz")[:2] == b"\x1f\x8b"  # gzip


def test_partitioned_write_and_globs(tmp_path, run_pipeline, gcs_server) -> None:
    bucket = gcs_server.bucket("partitions")
    write(tmp_path, "data/orders.csv", orders_csv(900))
    path = f"gs://{bucket}/orders/region={{region}}/"
    ok(run_pipeline(make_pipeline(
        tmp_path, extract("csv", path="data/orders.csv", batch_rows=100),
        gcs_load("parquet", gcs_server, path=path, max_file_rows=100))))
    keys = gcs_server.keys(bucket)
    assert sorted({k.rsplit("/", 1)[0] for k in keys}) == [
        f"orders/region={r}" for r in ("east", "north", "south")]
    per_file = [pq.read_metadata(io.BytesIO(gcs_server.read(bucket, k))).num_rows for k in keys]
    assert max(per_file) == 100 and sum(per_file) == 900
    assert "region" not in gcs_server.parquet(bucket, "orders/region=east/").column_names

    # Globs: `*` stays in one folder level, `**` crosses levels, `?` is one character.
    gcs_server.put(bucket, "in/2024-01/a.csv", "id,v\n1,a\n2,b\n")
    gcs_server.put(bucket, "in/2024-02/b.csv", "id,v\n3,c\n")
    gcs_server.put(bucket, "in/2024-02/deep/c.csv", "id,v\n4,d\n")
    gcs_server.put(bucket, "in/2024-02/notes.txt", "not a csv")
    cases = {"in/*/*.csv": [1, 2, 3], "in/**/*.csv": [1, 2, 3, 4], "in/2024-0?/a.csv": [1, 2],
             "in/2024-02/b.csv": [3]}
    for pattern, ids in cases.items():
        report = ok(run_pipeline(make_pipeline(
            tmp_path, gcs_extract("csv", gcs_server, path=f"gs://{bucket}/{pattern}",
                                  filename_column="file"),
            load("parquet", path="out/globbed.parquet"))))
        rows = pq.read_table(tmp_path / "out/globbed.parquet").to_pylist()
        assert sorted(r["id"] for r in rows) == ids, pattern
        assert all(r["file"].startswith(f"gs://{bucket}/in/") for r in rows)
        assert report["loaded"] == len(ids)
    out = failed(run_pipeline(make_pipeline(
        tmp_path, gcs_extract("csv", gcs_server, path=f"gs://{bucket}/in/*.json"),
        load("parquet", path="out/none.parquet"))))
    assert f"no file matches gs://{bucket}/in/*.json" in out


def test_replace_publishes_then_deletes_old_objects_and_a_failed_run_changes_nothing(
        tmp_path, run_pipeline, gcs_server) -> None:
    bucket = gcs_server.bucket("replace")
    gcs_server.put(bucket, "orders/part-from-before.parquet", b"old")
    gcs_server.put(bucket, "orders-archive/keep.parquet", b"other folder")
    write(tmp_path, "data/orders.csv", orders_csv(300))
    target = gcs_load("parquet", gcs_server, path=f"gs://{bucket}/orders/", max_file_rows=100)
    first = ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                                          target)))
    keys = gcs_server.keys(bucket, "orders/")
    assert len(keys) == 3 and all(first["run_id"] in k for k in keys)
    assert gcs_server.keys(bucket, "orders-archive/") == ["orders-archive/keep.parquet"]
    bad = make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                        {"map": {"columns": {"x": "no_such_column + 1"}}}, target)
    failed(run_pipeline(bad), code=1)
    assert gcs_server.keys(bucket, "orders/") == keys
    assert [k for k in gcs_server.keys(bucket) if "dteg-tmp" in k] == []
    write(tmp_path, "data/orders.csv", orders_csv(120))
    ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/orders.csv"), target)))
    assert gcs_server.parquet(bucket, "orders/").num_rows == 120
    assert len(gcs_server.keys(bucket, "orders/")) == 2


def _spawn_run(pipeline: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = (tmp_path / "killed-run.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "dteg.cli", "run", str(pipeline)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)


def _stop_when(process: subprocess.Popen[bytes], seen: Any, what: str,
               timeout: float = 600) -> None:
    """SIGSTOP the run as soon as ``seen()`` is true (polled; no timing assumption), so
    the state the test then checks is the state at the moment of the kill."""
    deadline = time.monotonic() + timeout
    while not seen():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)
    process.send_signal(signal.SIGSTOP)


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def test_kill_9_while_staging_leaves_the_target_unchanged_and_a_rerun_completes(
        tmp_path, run_pipeline, gcs_server) -> None:
    bucket = gcs_server.bucket("crash")
    target = gcs_load("parquet", gcs_server, path=f"gs://{bucket}/orders/", max_file_rows=500)
    write(tmp_path, "data/orders.csv", orders_csv(1000))
    ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/orders.csv",
                                                    batch_rows=500), target)))
    before = {k: gcs_server.read(bucket, k) for k in gcs_server.keys(bucket, "orders/")}
    assert len(before) == 2

    write(tmp_path, "data/orders.csv", orders_csv(60_000))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv", batch_rows=500),
                             target)
    process = _spawn_run(pipeline, tmp_path)
    try:
        _stop_when(process, lambda: any("dteg-tmp" in k for k in gcs_server.keys(bucket)),
                   "staged object")
        # Stopped while parts are staged: nothing of this run is in the target yet.
        assert {k: gcs_server.read(bucket, k) for k in gcs_server.keys(bucket, "orders/")} \
            == before
    finally:
        _kill(process)
    after = {k: gcs_server.read(bucket, k) for k in gcs_server.keys(bucket, "orders/")}
    assert after == before  # unchanged, byte for byte, and still readable
    assert gcs_server.parquet(bucket, "orders/").num_rows == 1000

    report = ok(run_pipeline(pipeline))
    assert report["loaded"] == 60_000
    ids = gcs_server.parquet(bucket, "orders/").column("id").to_pylist()
    assert sorted(ids) == list(range(1, 60_001))  # nothing lost, nothing doubled


def test_kill_9_while_publishing_leaves_whole_objects_and_a_rerun_is_exact(
        tmp_path, run_pipeline, gcs_server) -> None:
    """A folder has no atomic rename on an object store: a kill between two copies leaves
    some new objects beside the old ones. Each object is whole (readable), and the next run
    publishes everything and removes what is stale."""
    bucket = gcs_server.bucket("crash-publish")
    target = gcs_load("parquet", gcs_server, path=f"gs://{bucket}/orders/", max_file_rows=500)
    write(tmp_path, "data/orders.csv", orders_csv(1000))
    first = ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                                          target)))
    write(tmp_path, "data/orders.csv", orders_csv(40_000))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv", batch_rows=500),
                             target)
    process = _spawn_run(pipeline, tmp_path)
    try:
        _stop_when(process, lambda: any(
            first["run_id"] not in k for k in gcs_server.keys(bucket, "orders/")),
            "published object")
    finally:
        _kill(process)
    for key in gcs_server.keys(bucket, "orders/"):
        assert pq.read_metadata(io.BytesIO(gcs_server.read(bucket, key))).num_rows > 0, key
    report = ok(run_pipeline(pipeline))
    ids = gcs_server.parquet(bucket, "orders/").column("id").to_pylist()
    assert sorted(ids) == list(range(1, 40_001))
    assert all(report["run_id"] in k for k in gcs_server.keys(bucket, "orders/"))


def test_missing_bucket_and_bad_credentials_are_clear_errors(tmp_path, run_pipeline,
                                                             gcs_server) -> None:
    write(tmp_path, "data/orders.csv", orders_csv(10))
    src = extract("csv", path="data/orders.csv")
    out = failed(run_pipeline(make_pipeline(
        tmp_path, src, gcs_load("parquet", gcs_server, path="gs://no-such-bucket/o.parquet"))))
    assert "the bucket of gs://no-such-bucket/" in out and "does not exist" in out
    out = failed(run_pipeline(make_pipeline(
        tmp_path, gcs_extract("csv", gcs_server, path="gs://no-such-bucket/*.csv"),
        load("parquet", path="out/x.parquet"))))
    assert "the bucket of gs://no-such-bucket/" in out

    settings = {"gcs_api_endpoint": gcs_server.endpoint, "gcs_project": "dteg-test"}
    missing = tmp_path / "no-key.json"
    out = failed(run_pipeline(make_pipeline(tmp_path, src, load(
        "parquet", path="gs://formats/o.parquet", gcs_credentials_file=str(missing),
        **settings))))
    assert f"the GCS credentials file {missing} does not exist" in out
    broken = write(tmp_path, "key.json", json.dumps({
        "type": "service_account", "client_email": "x@y.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
        "token_uri": "http://127.0.0.1:1/token"}))
    out = failed(run_pipeline(make_pipeline(tmp_path, src, load(
        "parquet", path="gs://formats/o.parquet", gcs_credentials_file=str(broken),
        **settings))))
    assert "cannot set up Google Cloud Storage credentials" in out
    assert "not a key" not in out  # the key's text never reaches the message


def test_an_unreachable_endpoint_fails_fast(tmp_path, run_pipeline) -> None:
    from tests.integration.cloud_services import free_port

    write(tmp_path, "data/orders.csv", orders_csv(10))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv"), load(
        "parquet", path="gs://nowhere/o/", gcs_anonymous=True,
        gcs_api_endpoint=f"http://127.0.0.1:{free_port()}",
        retry={"attempts": 3, "initial_seconds": 0.1}))
    started = time.monotonic()
    out = failed(run_pipeline(pipeline), code=1)
    assert time.monotonic() - started < 90
    assert "uploading gs://nowhere/.o.dteg-tmp-" in out and "failed after 3 tries" in out


def test_duckdb_reads_what_dteg_wrote(tmp_path, run_pipeline, gcs_server) -> None:
    """The objects are ordinary Parquet files: a copy read by DuckDB matches."""
    bucket = gcs_server.bucket("duck")
    write(tmp_path, "data/orders.csv", orders_csv(250))
    ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/orders.csv"),
                                  gcs_load("parquet", gcs_server,
                                           path=f"gs://{bucket}/o.parquet"))))
    write(tmp_path, "copy/o.parquet", gcs_server.read(bucket, "o.parquet"))
    got = duckdb.connect().execute(
        f"SELECT count(*), sum(id) FROM read_parquet('{tmp_path}/copy/o.parquet')").fetchone()
    assert got == (250, sum(range(1, 251)))


def test_example_pipeline_gcs_orders(workdir, run_pipeline, gcs_server, monkeypatch) -> None:
    """pipelines/gcs_orders.yaml, pointed at the emulator through its ${env:…} values."""
    bucket = gcs_server.bucket("dteg-examples")
    monkeypatch.setenv("DTEG_GCS_ENDPOINT", gcs_server.endpoint)
    monkeypatch.setenv("DTEG_GCS_ANONYMOUS", "true")
    monkeypatch.setenv("DTEG_GCS_BUCKET", bucket)
    expected = pq.read_table(workdir / "data" / "orders.parquet").to_pylist()
    paid = sorted(r["order_id"] for r in expected if r["status"] == "paid")
    for _ in range(2):  # replace: a second run leaves the same objects' rows, not twice
        report = ok(run_pipeline(workdir / "gcs_orders.yaml"))
        assert report["loaded"] == len(paid)
        keys = gcs_server.keys(bucket, "paid_orders/")
        assert keys and all(report["run_id"] in k for k in keys)
        currencies = {k.split("/")[1] for k in keys}
        assert currencies == {f"currency={r['currency']}" for r in expected
                              if r["status"] == "paid"}
        ids = gcs_server.parquet(bucket, "paid_orders/").column("order_id").to_pylist()
        assert sorted(ids) == paid


def test_file_connectors_on_gs_pass_the_connector_kit(tmp_path, gcs_server) -> None:
    """dteg.testing's round trip (sink parts → commit → source) on gs:// paths."""
    import pyarrow as pa

    from dteg.testing import check_sink, check_source

    bucket = gcs_server.bucket("kit")
    batch = pa.record_batch({"id": pa.array([1, 2, 3], pa.int64()),
                             "email": pa.array(["a@x.io", None, "bad"], pa.string())})
    for name, rel in [("csv", "x.csv"), ("jsonl", "x.jsonl"), ("parquet", "x.parquet"),
                      ("avro", "x.avro"), ("parquet", "folder/")]:
        path = f"gs://{bucket}/{name}/{rel}"
        committed = check_sink(name, {"path": path, **gcs_server.settings()}, [batch, batch],
                               base_dir=tmp_path)
        assert committed.rows == 6
        pattern = path + "*" if path.endswith("/") else path
        table, dead = check_source(name, {"path": pattern, **gcs_server.settings()},
                                   base_dir=tmp_path)
        assert (table.num_rows, dead.num_rows) == (6, 0), name
        assert sorted(table.column("id").to_pylist()) == [1, 1, 2, 2, 3, 3]
