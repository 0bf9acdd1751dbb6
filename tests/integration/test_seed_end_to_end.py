"""The seed's example (pipelines/seed_example.yaml) end to end: real Kafka
(scripts/services/kafka) → validate → encrypt → the Salesforce Bulk API 2.0 stand-in → dbt
with tests (real dbt-duckdb).

What reached the stand-in is checked: one ingest job on Contact whose CSV holds only
encrypted e-mail addresses and phone numbers. The seed's settings encrypt `email` and send
`id`, which Salesforce refuses on an insert (`Id` is not insertable, and an encrypted value
is not a valid e-mail address): dteg says so before the job (a warning naming the step, its
line and the fix), every record that passed validation comes back from the job's failed
results as a dead letter with Salesforce's error, and the counts reconcile.

pipelines/seed_example_mapped.yaml is the same file with mapping lines in the loader's config
(`fields:`, `external_id_field:`, `operation: upsert`): its 8 valid Contacts land with
encrypted values, and a second run upserts the same 8.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.integration.fake_salesforce import FakeSalesforce, serve
from tests.integration.kafka_service import (  # noqa: F401 - session fixture
    create_topic,
    kafka_bootstrap,
    produce,
    unique,
)

pytestmark = pytest.mark.integration


def _messages() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"id": i, "email": f"person{i}@example.com", "phone": f"010-5555-{i:04d}",
         "LastName": f"Person{i}"} for i in range(1, 9)]
    rows.append({"id": 9, "email": None, "phone": "010-0000-0009", "LastName": "NoMail"})
    rows.append({"id": 10, "email": "not-an-address", "phone": "010-0000-0010",
                 "LastName": "BadMail"})
    return rows


@pytest.fixture
def seed_env(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch  # noqa: F811
             ) -> Iterator[FakeSalesforce]:
    """A topic holding the 10 messages, the stand-in serving, the environment set."""
    topic = create_topic(kafka_bootstrap, unique("data-stream"))
    produce(kafka_bootstrap, topic, _messages())
    sf = FakeSalesforce(polls_before_complete=1, custom_fields={"Contact": {
        "Encrypted_Email__c": "string", "Encrypted_Phone__c": "string"}})
    with serve(sf) as base:
        monkeypatch.setenv("DTEG_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
        monkeypatch.setenv("DTEG_SEED_TOPIC", topic)
        monkeypatch.setenv("DTEG_SALESFORCE_LOGIN_URL", base)
        monkeypatch.setenv("DTEG_SALESFORCE_CLIENT_ID", sf.client_id)
        monkeypatch.setenv("DTEG_SALESFORCE_CLIENT_SECRET", sf.client_secret)
        monkeypatch.setenv("DTEG_ENCRYPTION_KEY",
                           "base64:" + base64.b64encode(os.urandom(32)).decode())
        yield sf


def _verdicts(workdir: Path) -> dict[str, int]:
    con = duckdb.connect(str(workdir / ".dteg" / "seed_warehouse.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT error_code, sum(records) FROM "
                                "transformation_script GROUP BY 1").fetchall())
    finally:
        con.close()


def test_seed_example_runs_kafka_to_salesforce_to_dbt(
        seed_env: FakeSalesforce, workdir: Path, run_pipeline: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    sf = seed_env
    with caplog.at_level("WARNING", logger="dteg.salesforce"):
        code, report, out = run_pipeline(workdir / "seed_example.yaml")
    assert code == 0, out
    # Said before the job, naming the step, its line and the fix.
    warned = " ".join(caplog.messages)
    assert f"step `load` ({workdir / 'seed_example.yaml'}:33): " in warned, warned
    assert "column `id` goes to `Contact.Id`, which an insert cannot set" in warned
    assert "column `email` is masked or encrypted before the load but goes to " \
        "`Contact.Email`, a email field" in warned
    assert "column `phone` is masked or encrypted" in warned and "Map it to a text field" \
        in warned
    assert report is not None
    # 10 read: 2 fail validation (null, format), 8 reach Salesforce and are refused there.
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (10, 0, 10), report
    assert report["reconciles"] is True
    # What reached the stand-in: one insert job on Contact, e-mail and phone encrypted.
    jobs = [j for j in sf.jobs.values() if j.kind == "ingest"]
    assert len(jobs) == 1
    assert (jobs[0].spec["object"], jobs[0].spec["operation"]) == ("Contact", "insert")
    uploaded = jobs[0].csv.decode()
    assert uploaded.count("\n") == 9  # header + the 8 valid records
    assert "example.com" not in uploaded and "010-5555" not in uploaded
    assert uploaded.count("dteg:v1:") == 16  # email and phone of each record
    assert sf.rows("Contact") == []
    assert sf.client_secret not in out
    files = sorted((workdir / ".dteg" / "dead_letter" / "example_elt").glob("*.jsonl"))
    dead = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert len(dead) == 10
    refused = [d for d in dead if d["step"] == "load"]
    assert len(refused) == 8
    assert all(d["reason"].startswith("Salesforce rejected the record: ") for d in refused)
    assert "person1@example.com" not in json.dumps(dead)  # dead letters are encrypted too
    # dbt built the seed's model (and ran its tests) after the load committed.
    verdicts = _verdicts(workdir)
    assert sum(verdicts.values()) == 10
    assert verdicts.get("INVALID_EMAIL_ADDRESS") == 8, verdicts


def test_seed_with_mapping_lines_loads_the_contacts_and_upserts_on_rerun(
        seed_env: FakeSalesforce, workdir: Path, run_pipeline: Any) -> None:
    sf = seed_env
    for run in (1, 2):
        if run == 2:  # the same 10 messages again (the first run committed its offsets)
            produce(os.environ["DTEG_KAFKA_BOOTSTRAP_SERVERS"], os.environ["DTEG_SEED_TOPIC"],
                    _messages())
        code, report, out = run_pipeline(workdir / "seed_example_mapped.yaml")
        assert code == 0, out
        assert report is not None
        # 10 read: 2 fail validation (null, format), 8 land in Salesforce.
        assert (report["read"], report["loaded"], report["dead_lettered"]) == (10, 8, 2), \
            (run, report)
        assert report["reconciles"] is True
        assert "will refuse every record" not in out
        contacts = sf.rows("Contact")
        assert len(contacts) == 8, (run, contacts)  # the rerun updated the same 8
    jobs = [j for j in sf.jobs.values() if j.kind == "ingest"]
    assert [(j.spec["operation"], j.spec["externalIdFieldName"]) for j in jobs] == [
        ("upsert", "External_Id__c")] * 2
    assert sorted(int(c["External_Id__c"]) for c in contacts) == list(range(1, 9))
    assert sorted(c["LastName"] for c in contacts) == [f"Person{i}" for i in range(1, 9)]
    assert all(c["Encrypted_Email__c"].startswith("dteg:v1:") and
               c["Encrypted_Phone__c"].startswith("dteg:v1:") for c in contacts)
    assert all("Email" not in c and "Phone" not in c for c in contacts)
    assert "example.com" not in json.dumps(contacts)
    # dbt's verdicts: only the validate step's rejections (2 per run), none from Salesforce.
    verdicts = _verdicts(workdir)
    assert sum(verdicts.values()) == 4 and all(k.startswith("dteg:") for k in verdicts), \
        verdicts
