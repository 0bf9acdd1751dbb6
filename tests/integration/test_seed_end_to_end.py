"""The seed's example (pipelines/seed_example.yaml) end to end: real Kafka
(scripts/services/kafka) → validate → encrypt → the Salesforce Bulk API 2.0 stand-in → dbt
with tests (real dbt-duckdb).

What reached the stand-in is checked: one ingest job on Contact whose CSV holds only
encrypted e-mail addresses and phone numbers. The seed's settings encrypt `email` and send
`id`, which Salesforce refuses on an insert (`Id` is not insertable, and an encrypted value
is not a valid e-mail address): every record that passed validation comes back from the
job's failed results as a dead letter with Salesforce's error, and the counts reconcile.
"""

from __future__ import annotations

import base64
import json
import os
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


def test_seed_example_runs_kafka_to_salesforce_to_dbt(
        kafka_bootstrap: str, workdir: Path, run_pipeline: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    topic = create_topic(kafka_bootstrap, unique("data-stream"))
    produce(kafka_bootstrap, topic, _messages())
    sf = FakeSalesforce(polls_before_complete=1)
    with serve(sf) as base:
        monkeypatch.setenv("DTEG_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
        monkeypatch.setenv("DTEG_SEED_TOPIC", topic)
        monkeypatch.setenv("DTEG_SALESFORCE_LOGIN_URL", base)
        monkeypatch.setenv("DTEG_SALESFORCE_CLIENT_ID", sf.client_id)
        monkeypatch.setenv("DTEG_SALESFORCE_CLIENT_SECRET", sf.client_secret)
        monkeypatch.setenv("DTEG_ENCRYPTION_KEY",
                           "base64:" + base64.b64encode(os.urandom(32)).decode())
        code, report, out = run_pipeline(workdir / "seed_example.yaml")
    assert code == 0, out
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
    con = duckdb.connect(str(workdir / ".dteg" / "seed_warehouse.duckdb"), read_only=True)
    try:
        verdicts = dict(con.execute("SELECT error_code, sum(records) FROM "
                                    "transformation_script GROUP BY 1").fetchall())
    finally:
        con.close()
    assert sum(verdicts.values()) == 10
    assert verdicts.get("INVALID_EMAIL_ADDRESS") == 8, verdicts
