"""The Salesforce loader and source against a local Bulk API 2.0 stand-in
(tests/integration/fake_salesforce.py, real HTTP on 127.0.0.1, dteg's real client code):
every operation, jobs split by size, failed results as dead letters with Salesforce's
error, OAuth2 client credentials and JWT bearer, refused logins, expired sessions, 5xx."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dteg.errors import ConnectorError
from dteg.testing import build, check_sink, check_source, context
from tests.integration.fake_salesforce import FakeSalesforce, serve

pytestmark = pytest.mark.integration
CREDENTIALS = {"type": "client_credentials", "client_id": "dteg-app",
               "client_secret": "sf-s3cret"}


def _config(base: str, **extra: Any) -> dict[str, Any]:
    return {"login_url": base, "object_name": "Contact", "auth": CREDENTIALS,
            "poll_initial_seconds": 0.05, "poll_max_seconds": 0.2,
            "retry": {"attempts": 4, "initial_seconds": 0.05}, **extra}


def _contacts(n: int, start: int = 1, **columns: list[Any]) -> pa.RecordBatch:
    data: dict[str, Any] = {
        "External_Id__c": [f"X-{i}" for i in range(start, start + n)],
        "LastName": [f"Last{i}" for i in range(start, start + n)],
        "Email": [f"p{i}@example.com" for i in range(start, start + n)]}
    data.update(columns)
    return pa.record_batch(data)


def _commit(base_dir: Path, config: dict[str, Any], *batches: pa.RecordBatch) -> Any:
    """Write and commit outside the kit (the kit wants every row committed; these tests
    expect rejections)."""
    writer = build("sink", "salesforce-loader", config, context(base_dir))
    part = writer.open_part("p0")
    for batch in batches:
        part.write(batch)
    return writer.commit([part.close()])


def _dead(base_dir: Path) -> list[dict[str, Any]]:
    files = sorted((base_dir / ".dteg" / "dead_letter").rglob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


@pytest.fixture
def sf() -> Any:
    stand_in = FakeSalesforce(polls_before_complete=2)
    with serve(stand_in) as base:
        stand_in.base_url = base
        yield stand_in


def test_kit_insert_then_query_back(sf: FakeSalesforce, tmp_path: Path) -> None:
    committed = check_sink("salesforce-loader", _config(sf.base_url), [_contacts(5),
                           _contacts(5, 6)], base_dir=tmp_path)
    assert committed.rows == 10
    assert sorted(r["LastName"] for r in sf.rows("Contact")) == sorted(
        f"Last{i}" for i in range(1, 11))
    table, dead = check_source("salesforce", _config(
        sf.base_url, fields=["Id", "LastName", "Email"]), base_dir=tmp_path)
    assert table.num_rows == 10 and dead.num_rows == 0
    assert all(i.startswith("003") for i in table.column("Id").to_pylist())


def test_rejected_records_become_dead_letters_with_salesforces_error(
        sf: FakeSalesforce, tmp_path: Path) -> None:
    batch = _contacts(4, LastName=["A", None, "C", "D"],
                      Email=["a@x.io", "b@x.io", "not-an-email", "d@x.io"])
    committed = _commit(tmp_path, _config(sf.base_url), batch)
    assert committed.rows == 2  # successfulResults
    assert "2 record(s) rejected" in committed.detail
    dead = _dead(tmp_path)
    assert sorted(d["column"] for d in dead) == ["Email", "LastName"]
    assert any("INVALID_EMAIL_ADDRESS" in d["reason"] for d in dead)
    assert any("REQUIRED_FIELD_MISSING" in d["reason"] for d in dead)
    assert all(d["source"].startswith("salesforce ingest job 750") for d in dead)
    assert json.loads(next(d for d in dead if d["column"] == "Email")["record"])[
        "Email"] == "not-an-email"
    assert len(sf.rows("Contact")) == 2


def test_upsert_by_external_id_is_exact_when_repeated(sf: FakeSalesforce,
                                                      tmp_path: Path) -> None:
    config = _config(sf.base_url, operation="upsert", external_id_field="External_Id__c")
    check_sink("salesforce-loader", config, [_contacts(6)], base_dir=tmp_path)
    changed = _contacts(3, 4, LastName=["New4", "New5", "New6"])
    check_sink("salesforce-loader", config, [changed, _contacts(2, 7)], base_dir=tmp_path)
    rows = {r["External_Id__c"]: r["LastName"] for r in sf.rows("Contact")}
    assert len(rows) == 8
    assert rows["X-4"] == "New4" and rows["X-1"] == "Last1" and rows["X-8"] == "Last8"


def test_update_and_delete_by_id(sf: FakeSalesforce, tmp_path: Path) -> None:
    check_sink("salesforce-loader", _config(sf.base_url), [_contacts(3)], base_dir=tmp_path)
    ids = [r["Id"] for r in sf.rows("Contact")]
    update = pa.record_batch({"Id": ids[:2], "Title": ["CTO", "CFO"]})
    check_sink("salesforce-loader", _config(sf.base_url, operation="update"), [update],
               base_dir=tmp_path)
    assert [r.get("Title") for r in sf.rows("Contact")] == ["CTO", "CFO", None]
    missing = pa.record_batch({"Id": [ids[2], "003NOSUCHRECORD00"]})
    committed = _commit(tmp_path, _config(sf.base_url, operation="delete"), missing)
    assert committed.rows == 1
    assert [r["Id"] for r in sf.rows("Contact")] == ids[:2]
    assert "INVALID_CROSS_REFERENCE_KEY" in _dead(tmp_path)[0]["reason"]


def test_large_loads_are_split_into_jobs_within_the_limit(sf: FakeSalesforce,
                                                          tmp_path: Path) -> None:
    committed = check_sink("salesforce-loader", _config(sf.base_url, max_job_bytes=2048),
                           [_contacts(200)], base_dir=tmp_path, parts=1)
    jobs = [j for j in sf.jobs.values() if j.kind == "ingest"]
    assert committed.rows == 200 and len(sf.rows("Contact")) == 200
    assert len(jobs) > 3 and all(len(j.csv) <= 2048 for j in jobs)
    headers = {j.csv.split(b"\n", 1)[0].replace(b'"', b"") for j in jobs}
    assert headers == {b"External_Id__c,LastName,Email"}  # every job has the header


def test_a_column_that_matches_no_field_fails_before_any_job(sf: FakeSalesforce,
                                                             tmp_path: Path) -> None:
    batch = pa.record_batch({"LastName": ["A"], "Nickname": ["x"]})
    with pytest.raises(ConnectorError) as info:
        _commit(tmp_path, _config(sf.base_url), batch)
    assert "1 column(s) match no field of Salesforce Contact: `Nickname`" in str(info.value)
    assert "`fields: {column: null}`" in str(info.value)
    assert ("GET", "/services/data/v53.0/sobjects/Contact/describe") in sf.requests
    assert not sf.jobs  # Salesforce would fail the whole job: none was created


def test_fields_map_and_drop_columns_case_insensitively(sf: FakeSalesforce,
                                                        tmp_path: Path) -> None:
    sf.custom_fields = {"Contact": {"Secret_Email__c": "string"}}
    batch = pa.record_batch({"key": ["K-1", "K-2"], "lastname": ["A", "B"],
                             "email": ["dteg:v1:abc", "dteg:v1:def"], "junk": ["x", "y"]})
    config = _config(sf.base_url, operation="upsert", external_id_field="external_id__c",
                     fields={"key": "External_Id__c", "EMAIL": "Secret_Email__c",
                             "junk": None})
    for _ in range(2):  # the second run upserts the same two records
        assert _commit(tmp_path, config, batch).rows == 2
    rows = sf.rows("Contact")
    assert sorted((r["External_Id__c"], r["LastName"], r["Secret_Email__c"]) for r in rows) \
        == [("K-1", "A", "dteg:v1:abc"), ("K-2", "B", "dteg:v1:def")]
    assert all("junk" not in r for r in rows)
    sent = next(iter(sf.jobs.values())).csv.split(b"\n", 1)[0]
    assert sent == b"External_Id__c,LastName,Secret_Email__c"  # as Salesforce spells them


def test_what_salesforce_would_refuse_is_said_first(sf: FakeSalesforce, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    ctx = replace(context(tmp_path), where="step `load` (p.yaml line 9)",
                  protected_columns=frozenset({"Email"}))
    writer = build("sink", "salesforce-loader", _config(sf.base_url), ctx)
    part = writer.open_part("p0")
    part.write(pa.record_batch({"Id": ["003A"], "LastName": ["A"], "Email": ["dteg:v1:x"]}))
    with caplog.at_level("WARNING", logger="dteg.salesforce"):
        committed = writer.commit([part.close()])
    assert committed.rows == 0 and committed.dead_lettered == 1
    text = " ".join(caplog.messages)
    assert "step `load` (p.yaml line 9): column `Id` goes to `Contact.Id`, which an insert " \
        "cannot set" in text and "`external_id_field: External_Id__c`" in text
    assert "column `Email` is masked or encrypted before the load but goes to " \
        "`Contact.Email`, a email field" in text and "Map it to a text field" in text
    upsert = _config(sf.base_url, operation="upsert", external_id_field="External_Id__c")
    with pytest.raises(ConnectorError, match="no column is sent as `External_Id__c`"):
        _commit(tmp_path, upsert, pa.record_batch({"LastName": ["A"]}))


def test_refused_login_is_clear_and_hides_the_secret(sf: FakeSalesforce,
                                                     tmp_path: Path) -> None:
    auth = {**CREDENTIALS, "client_secret": "wrong-secret-42"}
    with pytest.raises(ConnectorError) as info:
        check_sink("salesforce-loader", _config(sf.base_url, auth=auth), [_contacts(1)],
                   base_dir=tmp_path)
    text = str(info.value)
    assert "Salesforce refused the login of client `dteg-app`" in text
    assert "authentication failure" in text and "wrong-secret-42" not in text
    assert sf.rows("Contact") == []


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


def test_jwt_bearer_login_with_a_private_key_file(sf: FakeSalesforce, tmp_path: Path) -> None:
    private, public = _key_pair()
    sf.public_key = public
    (tmp_path / "sf.pem").write_text(private)
    auth = {"type": "jwt_bearer", "client_id": "dteg-app",
            "username": "integration@example.com", "private_key_file": "sf.pem"}
    check_sink("salesforce-loader", _config(sf.base_url, auth=auth), [_contacts(2)],
               base_dir=tmp_path)
    assert len(sf.rows("Contact")) == 2
    other, _ = _key_pair()
    wrong = {**auth, "private_key_file": None, "private_key": other}
    with pytest.raises(ConnectorError, match="refused the login of user"):
        check_sink("salesforce-loader", _config(sf.base_url, auth=wrong), [_contacts(1)],
                   base_dir=tmp_path)


def test_expired_session_logs_in_again_and_5xx_is_retried(sf: FakeSalesforce,
                                                          tmp_path: Path) -> None:
    sf.failures = [("POST", "/jobs/ingest", 401), ("PUT", "/batches", 503),
                   ("GET", "/successfulResults", 500)]
    committed = check_sink("salesforce-loader", _config(sf.base_url), [_contacts(3)],
                           base_dir=tmp_path)
    assert committed.rows == 3 and len(sf.rows("Contact")) == 3
    assert sf.logins == 2 and sf.failures == []


def test_unsupported_api_version_is_clear(sf: FakeSalesforce, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="HTTP 404"):
        check_sink("salesforce-loader", _config(sf.base_url, api_version="v20.0"),
                   [_contacts(1)], base_dir=tmp_path)


def test_example_pipeline_reconciles_with_salesforce_rejections(
        sf: FakeSalesforce, workdir: Path, run_pipeline: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("DTEG_SALESFORCE_LOGIN_URL", sf.base_url)
    monkeypatch.setenv("DTEG_SALESFORCE_CLIENT_ID", "dteg-app")
    monkeypatch.setenv("DTEG_SALESFORCE_CLIENT_SECRET", "sf-s3cret")
    for _ in range(2):  # upserts: the second run updates the same records
        code, report, out = run_pipeline(workdir / "salesforce_contacts.yaml")
        assert code == 0, out
        assert report is not None
        assert (report["read"], report["loaded"], report["dead_lettered"]) == (6, 4, 2), report
        assert report["reconciles"] is True
        assert "sf-s3cret" not in out
    rows = {r["External_Id__c"]: r for r in sf.rows("Contact")}
    assert sorted(rows) == ["C-001", "C-002", "C-003", "C-006"]
    assert rows["C-006"]["Title"] == "Lead, Data"
    files = sorted((workdir / ".dteg" / "dead_letter" / "salesforce_contacts").glob("*.jsonl"))
    dead = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert len(dead) == 4  # two per run
    assert {d["column"] for d in dead} == {"Email", "LastName"}


def test_rejections_go_where_pipeline_dead_letter_points(
        sf: FakeSalesforce, workdir: Path, run_pipeline: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("DTEG_SALESFORCE_LOGIN_URL", sf.base_url)
    monkeypatch.setenv("DTEG_SALESFORCE_CLIENT_ID", "dteg-app")
    monkeypatch.setenv("DTEG_SALESFORCE_CLIENT_SECRET", "sf-s3cret")
    text = (workdir / "salesforce_contacts.yaml").read_text().replace(
        "  name: salesforce_contacts\n", "  name: salesforce_contacts\n  dead_letter:\n"
        "    type: duckdb\n    config: {database: .dteg/dead.duckdb, table: dead_letters}\n")
    path = workdir / "salesforce_dead_duckdb.yaml"
    path.write_text(text)
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report is not None and report["reconciles"] is True
    assert (report["loaded"], report["dead_lettered"]) == (4, 2), report
    import duckdb

    con = duckdb.connect(str(workdir / ".dteg" / "dead.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT step, reason FROM dead_letters").fetchall()
    finally:
        con.close()
    assert len(rows) == 2 and all(step == "load" for step, _ in rows)
    assert all(reason.startswith("Salesforce rejected the record: ") for _, reason in rows)
    assert not (workdir / ".dteg" / "dead_letter").exists()  # nothing in the default folder
