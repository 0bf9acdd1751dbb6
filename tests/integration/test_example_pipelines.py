"""Every pipeline in pipelines/ runs on the embedded runner, and what landed is checked."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import duckdb
import fastavro
import pyarrow.parquet as pq

from tests.integration.conftest import PIPELINES


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _dead_letters(workdir: Path, pipeline: str) -> list[dict]:
    files = sorted((workdir / ".dteg" / "dead_letter" / pipeline).glob("*.jsonl"))
    return [row for f in files for row in _jsonl(f)]


def test_every_example_has_a_test() -> None:
    tested = {"quickstart", "csv_to_parquet", "jsonl_events", "parquet_orders", "avro_orders",
              "duckdb_query", "fan_out", "secure_customers",
              "secure_customers_read",
              # run by test_postgres.py and test_mysql.py (they need the database servers)
              "postgres_incremental", "mysql_incremental",
              # run by test_kafka_stream.py and test_kafka_windows.py (they need the broker)
              "kafka_to_duckdb", "kafka_windowed",
              # run by test_http_source.py and test_salesforce.py (local stand-in servers)
              "rest_incremental", "salesforce_contacts",
              # run by test_seed_end_to_end.py (Kafka broker + Salesforce stand-in + dbt)
              "seed_example", "seed_example_mapped",
              # run by test_postgres_cdc.py (it needs the database server)
              "postgres_cdc",
              # run by test_mongodb.py (it needs FerretDB)
              "mongodb_orders",
              # served on its schedule by orchestrator/test_server_embedded.py
              "every_minute",
              # run by test_gcs.py (fake-gcs-server) and test_google_sheets.py (stand-in)
              "gcs_orders", "sheets_orders"}
    assert {p.stem for p in PIPELINES.glob("*.yaml")} <= tested


def test_quickstart(workdir, run_pipeline) -> None:
    code, report, out = run_pipeline(workdir / "quickstart.yaml")
    assert code == 0, out
    assert report["read"] == 13
    assert report["loaded"] == 8
    assert report["dead_lettered"] == 5
    assert report["reconciles"] is True
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    rows = con.execute("SELECT id, email, phone FROM customers ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 5, 8, 10, 11, 13]
    assert all(len(r[1]) == 64 and "@" not in r[1] for r in rows)  # HMAC-SHA256 hex
    assert rows[0][2] == "*********5678"
    dead = _dead_letters(workdir, "quickstart")
    reasons = sorted(d["reason"] for d in dead)
    assert any("expected 7 fields, found 3" in r for r in reasons)
    assert any("'not-a-number' is not a valid decimal128(12, 2)" in r for r in reasons)
    assert sum("is null" in r for r in reasons) == 2
    # Dead letters are masked like loaded rows: no raw email anywhere.
    assert "john.smith(at)example.com" not in json.dumps(dead)
    assert "ghost@example.com" not in json.dumps(dead)
    # Every dead letter names its file and line, the validate step's too (lines 5, 7, 8).
    assert all(d["source"] for d in dead), dead
    lines = {d["source"].rsplit(":", 1)[-1] for d in dead}
    assert lines == {"5", "7", "8", "10", "13"}
    assert {d["source"].rsplit(":", 1)[-1] for d in dead if d["rule"]} == {"5", "7", "8"}


def test_quickstart_twice_merges_instead_of_duplicating(workdir, run_pipeline) -> None:
    assert run_pipeline(workdir / "quickstart.yaml")[0] == 0
    assert run_pipeline(workdir / "quickstart.yaml")[0] == 0
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM customers").fetchall() == [
        (8, 8)]


def test_csv_to_parquet(workdir, run_pipeline) -> None:
    code, report, out = run_pipeline(workdir / "csv_to_parquet.yaml")
    assert code == 0, out
    table = pq.read_table(workdir / "out" / "customers.parquet")
    assert table.num_rows == 11
    assert "phone" not in table.column_names
    assert str(table.schema.field("lifetime_value").type) == "decimal128(12, 2)"
    assert set(table.column("country").to_pylist()) <= {"kr", "br", "us", "jp", "es", "gb",
                                                         "fr", "vn", "cn"}
    assert set(table.column("signup_year").to_pylist()) == {2024}
    assert report["reconciles"] is True
    assert not list(workdir.glob("out/.customers.parquet.dteg-tmp-*")), "staging left behind"


def test_jsonl_events(workdir, run_pipeline) -> None:
    code, report, out = run_pipeline(workdir / "jsonl_events.yaml")
    assert code == 0, out
    assert report["read"] == 10
    parts = sorted((workdir / "out" / "events").glob("*.jsonl"))
    assert len(parts) == 1
    rows = _jsonl(parts[0])
    assert [r["event_id"] for r in rows] == [1, 2, 3, 5, 7, 9]
    assert all(r["user"].startswith("***@") for r in rows)
    with open(workdir / "out" / "events.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 6
    con = duckdb.connect(str(workdir / ".dteg" / "dead_letters.duckdb"), read_only=True)
    dead = con.execute("SELECT step, reason, source FROM dead_letters ORDER BY source").fetchall()
    assert len(dead) == 4
    assert all(d[2] for d in dead), dead  # every dead letter names its file and line
    sources = {d[2].rsplit(":", 1)[-1] for d in dead}
    # bad JSON, not an object, "six" is not an int; line 10 fails the validate step
    assert sources == {"4", "7", "8", "10"}
    assert any("not one of" in d[1] for d in dead if d[0] == "validate")


def test_parquet_orders(workdir, run_pipeline) -> None:
    code, report, out = run_pipeline(workdir / "parquet_orders.yaml")
    assert code == 0, out
    source = pq.read_table(workdir / "data" / "orders.parquet").to_pylist()
    expected = [r for r in source if r["status"] == "paid" and r["amount"] > 0]
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    got = con.execute("SELECT order_id, amount_cents FROM paid_orders ORDER BY 1").fetchall()
    assert [g[0] for g in got] == [r["order_id"] for r in expected]
    assert [g[1] for g in got] == [round(r["amount"] * 100) for r in expected]
    assert report["filtered"] == len(source) - len(expected)
    assert report["reconciles"] is True


def test_avro_orders(workdir, run_pipeline) -> None:
    code, _report, out = run_pipeline(workdir / "avro_orders.yaml")
    assert code == 0, out
    with open(workdir / "out" / "orders.avro", "rb") as fh:
        reader = fastavro.reader(fh)
        assert reader.codec == "snappy"
        records = list(reader)
    with open(workdir / "data" / "orders.avro", "rb") as fh:
        original = list(fastavro.reader(fh))
    assert records == original
    with gzip.open(workdir / "out" / "orders.csv.gz", "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 500
    assert rows[0]["order_id"] == "1"


def test_duckdb_query(workdir, run_pipeline) -> None:
    code, _report, out = run_pipeline(workdir / "duckdb_query.yaml")
    assert code == 0, out
    table = pq.read_table(workdir / "out" / "calendar")
    assert table.num_rows == 366
    assert sum(table.column("weekend").to_pylist()) == 104


def test_fan_out(workdir, run_pipeline) -> None:
    code, report, out = run_pipeline(workdir / "fan_out.yaml")
    assert code == 0, out
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM fan_orders").fetchall() == [(500,)]
    assert con.execute("SELECT count(*) FROM fan_customers").fetchall() == [(11,)]
    refunds = _jsonl(workdir / "out" / "refunds.jsonl")
    assert refunds and all(r["status"] == "refunded" for r in refunds)
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["refunds"]["rows_out"] + steps["refunds"]["filtered"] == 500
    # A source has no input: its "in" is what it read, in the JSON as in the summary.
    assert steps["orders"]["rows_in"] == 500
    # Fan-out: each sink reconciles with the sources upstream of it.
    assert report["reconciles"] is True
    balances = {b["sink"]: b for b in report["reconciliation"]}
    assert set(balances) == {"customers_table", "orders_table", "refunds_file"}
    assert balances["refunds_file"]["read"] == 500
    assert balances["refunds_file"]["loaded"] + balances["refunds_file"]["filtered"] == 500
    assert "refunds_file: counts reconcile" in out


def test_secure_customers_then_the_authorized_reader(workdir, run_pipeline, monkeypatch) -> None:
    monkeypatch.delenv("DTEG_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("DTEG_MASKING_KEY", raising=False)
    code, report, out = run_pipeline(workdir / "secure_customers.yaml")
    assert code == 0, out
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (13, 8, 5)
    assert report["reconciles"] is True
    rules = {r["rule"]: r["failed"] for r in report["quality"]["steps"][0]["rules"]}
    assert rules == {"null_check": 2, "format_check": 1, "range_check": 0, "unique": 0}
    loaded = pq.read_table(workdir / "out" / "secure_customers.parquet").to_pylist()
    assert all(r["email"].startswith("dteg:v1:demo1:") for r in loaded)
    assert all(r["name"].startswith("dteg:tok:k1:") for r in loaded)
    assert loaded[0]["phone"] == "*********5678"
    text = (workdir / "out" / "secure_customers.parquet").read_bytes()
    assert b"minji.kim@example.com" not in text and b"Kim Minji" not in text
    dead = json.dumps(_dead_letters(workdir, "secure_customers"))
    assert "ghost@example.com" not in dead and "Ghost Row" not in dead
    code, report, out = run_pipeline(workdir / "secure_customers_read.yaml")
    assert code == 0, out
    con = duckdb.connect(str(workdir / ".dteg" / "authorized.duckdb"), read_only=True)
    rows = con.execute("SELECT id, name, email FROM customers ORDER BY id").fetchall()
    assert rows[0] == (1, "Kim Minji", "minji.kim@example.com")
    assert rows[-1] == (13, "Nguyen An", "an.nguyen@example.vn")
    assert len(rows) == 8
