"""The catalog is collected on every run: after the example pipelines (those that need no
server) run, `dteg catalog list` shows every dataset they read or wrote, with PII classes,
protection, owners, schema history, row counts and a profile per run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dteg.cli import main
from dteg.governance.datasets import dataset_of
from dteg.spec.phases import compile_spec

# The examples that need no service (the others are run by their own tests).
LOCAL_EXAMPLES = ("quickstart", "csv_to_parquet", "jsonl_events", "parquet_orders",
                  "avro_orders", "duckdb_query", "fan_out", "secure_customers",
                  "secure_customers_read")


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture(scope="module")
def cataloged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.integration.conftest import PIPELINES

    workdir = tmp_path_factory.mktemp("catalog") / "pipelines"
    shutil.copytree(PIPELINES, workdir, ignore=shutil.ignore_patterns(".dteg", "out"))
    for name in LOCAL_EXAMPLES:
        try:
            main(["run", str(workdir / f"{name}.yaml")])
        except SystemExit as exc:
            assert not exc.code, f"{name} failed"
    return workdir


def _listed(capsys: pytest.CaptureFixture[str], workdir: Path, *extra: str) -> list[dict]:
    code, out = _cli(capsys, "catalog", "list", str(workdir), "--format", "json", *extra)
    assert code == 0, out
    return json.loads(out)


def test_every_dataset_of_the_examples_is_cataloged(cataloged: Path, capsys) -> None:
    expected = set()
    for name in LOCAL_EXAMPLES:
        spec = compile_spec(cataloged / f"{name}.yaml")
        expected |= {"::".join(dataset_of(spec, s)) for s in spec.steps
                     if s.is_source or s.is_sink}
    listed = {d["key"]: d for d in _listed(capsys, cataloged)}
    assert set(listed) == expected
    # Every dataset that was written has its columns and its row count.
    for key, d in listed.items():
        if d["last_written"] and not d["dead_letter"]:
            assert d["columns"], key
            assert d["last_rows"] is not None, key


def test_dead_letter_datasets_have_the_dead_letter_columns(cataloged: Path, capsys) -> None:
    dead = [d for d in _listed(capsys, cataloged) if d["dead_letter"]]
    assert dead
    for d in dead:
        assert [c["name"] for c in d["columns"]] == [
            "pipeline", "step", "reason", "rule", "column", "source", "record", "failed_at"]
    # The quickstart reads emails: its rejected rows (JSON in `record`) hold them, masked.
    quickstart = next(d for d in dead if "quickstart" in d["key"])
    record = next(c for c in quickstart["columns"] if c["name"] == "record")
    assert "email" in record["pii"] and record["protection"] == "masked like the loads"


def test_pii_classes_and_protection(cataloged: Path, capsys) -> None:
    listed = {d["key"]: d for d in _listed(capsys, cataloged)}
    raw = listed[f"file::{cataloged / 'data' / 'customers.csv'}"]
    assert raw["pii_classes"] == {"email": "email", "phone": "phone", "name": "person_name"}
    secure = listed[f"file::{cataloged / 'out' / 'secure_customers.parquet'}"]
    columns = {c["name"]: c for c in secure["columns"]}
    assert columns["email"]["pii"] == "email"
    assert columns["email"]["protection"] == "encrypted"
    assert columns["name"]["protection"] == "tokenize"
    assert columns["phone"]["protection"] == "partial"
    assert secure["owners"] == ["crm-team@example.com"]
    assert secure["tags"] == ["crm", "customers"]
    quick = listed[f"duckdb://{cataloged / '.dteg' / 'warehouse.duckdb'}::customers"]
    assert {c["name"]: c["protection"] for c in quick["columns"] if c["pii"]} == {
        "email": "hash", "phone": "partial", "name": None}
    # The text form names each PII column, its class and what protects it.
    code, out = _cli(capsys, "catalog", "list", str(cataloged))
    assert code == 0
    assert "email:email (encrypted), name:person_name (tokenize), phone:phone (partial)" in out
    assert "name:person_name (UNPROTECTED)" in out
    only_pii = {d["key"] for d in _listed(capsys, cataloged, "--pii")}
    assert raw["key"] in only_pii and secure["key"] in only_pii
    assert f"file::{cataloged / 'data' / 'orders.parquet'}" not in only_pii


def test_show_has_users_models_history_and_profiles(cataloged: Path, capsys) -> None:
    key = f"duckdb://{cataloged / '.dteg' / 'warehouse.duckdb'}::customers"
    code, out = _cli(capsys, "catalog", "show", key, str(cataloged))
    assert code == 0, out
    detail = json.loads(out)
    assert {(u["pipeline"], u["role"]) for u in detail["users"]} == {("quickstart", "write")}
    assert detail["models"], "quickstart's dbt models are built on its customers table"
    assert detail["schema_history"][0]["version"] == 1
    assert detail["runs"][0]["rows"] == 8
    source = json.loads(_cli(capsys, "catalog", "show",
                             f"file::{cataloged / 'data' / 'customers.csv'}",
                             str(cataloged))[1])
    profile = source["runs"][0]["profile"]
    by_name = {c["name"]: c for c in profile["columns"]}
    assert by_name["email"]["pii"] == "email"
    # The catalog keeps no values of personal data (nor of any text column).
    assert "min" not in by_name["email"] and "min" not in by_name["name"]
    assert "@" not in json.dumps(profile)
    assert by_name["id"]["min"] == 1
    # What the sample read, readable or not, is what the run read (13 lines of the file).
    assert profile["rows"] + profile["unreadable"] == source["runs"][0]["rows"] == 13
    # Several pipelines read the raw customers file.
    readers = {u["pipeline"] for u in source["users"] if u["role"] == "read"}
    assert {"quickstart", "csv_to_parquet", "secure_customers", "fan_out"} <= readers


def test_a_second_run_adds_history_and_a_schema_change_a_version(cataloged: Path,
                                                                 capsys) -> None:
    key = f"file::{cataloged / 'data' / 'customers.csv'}"
    before = json.loads(_cli(capsys, "catalog", "show", key, str(cataloged))[1])
    csv_file = cataloged / "data" / "customers.csv"
    original = csv_file.read_text()
    lines = original.splitlines()
    # Only well-formed rows, with one more column.
    good = [lines[0] + ",segment"] + [line + ",retail" for line in lines[1:]
                                      if line.count(",") == lines[0].count(",")]
    csv_file.write_text("\n".join(good) + "\n")
    try:
        code, out = _cli(capsys, "run", str(cataloged / "csv_to_parquet.yaml"))
        assert code == 0, out
    finally:
        csv_file.write_text(original)
    after = json.loads(_cli(capsys, "catalog", "show", key, str(cataloged))[1])
    assert len(after["schema_history"]) == len(before["schema_history"]) + 1
    assert "segment" in {f["name"] for f in after["schema_history"][-1]["schema"]}
    assert len(after["runs"]) == len(before["runs"]) + 1


def test_unknown_dataset_is_a_clear_error(cataloged: Path, capsys) -> None:
    code, out = _cli(capsys, "catalog", "show", "no_such_table", str(cataloged))
    assert code != 0
    assert "no dataset `no_such_table`" in out and "dteg catalog list" in out
    assert "Traceback" not in out


def test_a_load_of_unprotected_pii_raises_one_alert_per_new_column(cataloged: Path) -> None:
    alerts = [json.loads(line) for line in
              (cataloged / ".dteg" / "alerts.jsonl").read_text().splitlines()]
    pii = [a for a in alerts if a["type"] == "pii_unprotected"]
    by_pipeline = {a["pipeline"]: a for a in pii}
    # fan_out loads the raw customers (email, phone, name) into DuckDB unmasked.
    assert set(by_pipeline["fan_out"]["columns"]) == {"email", "phone", "name"}
    assert by_pipeline["fan_out"]["classes"]["email"] == "email"
    # secure_customers protects everything it loads: no alert.
    assert "secure_customers" not in by_pipeline
    # quickstart hashes email and phone, but loads the names as they are.
    assert by_pipeline["quickstart"]["columns"] == ["name"]
    assert len([a for a in pii if a["pipeline"] == "fan_out"]) == 1


def test_the_pii_inventory_and_the_record_of_processing(cataloged: Path, capsys,
                                                        tmp_path: Path) -> None:
    page = tmp_path / "record.html"
    code, out = _cli(capsys, "privacy", "report", str(cataloged), "--format", "json",
                     "--html", str(page))
    assert code == 0, out
    report = json.loads(out.split("\nwrote the record")[0])
    entries = {e["dataset"]: e for e in report["datasets"]}
    secure = entries[f"file::{cataloged / 'out' / 'secure_customers.parquet'}"]
    assert secure["columns"] == {"email": "email", "name": "person_name", "phone": "phone"}
    assert secure["unprotected"] == []
    assert secure["owners"] == ["crm-team@example.com"]
    assert secure["recipients"] == ["secure_customers_read"]
    assert secure["purposes"] == [
        "Validated, masked and encrypted customers, with bad rows dead-lettered."]
    fan = entries[f"duckdb://{cataloged / '.dteg' / 'warehouse.duckdb'}::fan_customers"]
    assert fan["unprotected"] == ["email", "name", "phone"]
    text = page.read_text()
    assert "<h1>Record of processing activities</h1>" in text
    assert "crm-team@example.com" in text and "unprotected" in text
    assert "<script" not in text
