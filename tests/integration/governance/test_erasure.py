"""Erasure and access requests on the real services: a subject present in DuckDB (as is),
PostgreSQL (HMAC-hashed email), a Parquet file (tokenized email) and a Kafka topic (each row
sealed under its subject's own key, `key_per: email`) → after `dteg privacy erase` no
dataset returns the subject (checked by querying each with its own client; the topic by
consuming it and decrypting every message), the other rows are untouched, one receipt per
dataset is in the audit log and the chain verifies; `dteg privacy export` finds the rows
first. (Services: scripts/services/postgres, scripts/services/kafka.)"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dteg.cli import main
from tests.integration.databases import rows
from tests.integration.kafka_service import (
    consume_all,
    create_topic,
    kafka_bootstrap,  # noqa: F401 - session fixture
    unique,
)

pytestmark = pytest.mark.usefixtures("pg")

SUBJECT = "ada@example.com"
HASH_KEY = "an-hmac-key-for-the-erasure-test"
TOKEN_KEY = "a-tokenize-key-for-the-erasure-test"
CUSTOMERS = "id,email,city\n1,ada@example.com,London\n2,bob@example.com,Paris\n" \
            "3,cy@example.com,Rome\n4,ada@example.com,Oslo\n5,dee@example.com,Lima\n"

PLAIN = """\
pipeline:
  name: crm_plain
  steps:
    - extract: {type: csv, config: {path: customers.csv}}
    - load: {type: duckdb, config: {database: crm.duckdb, table: customers}}
"""
HASHED = """\
pipeline:
  name: crm_hashed
  security:
    data_masking: [email]
    masking_key: HASH_KEY
  steps:
    - extract: {type: csv, config: {path: customers.csv}}
    - load: {type: postgres, config: {url: "${env:DTEG_POSTGRES_URL}", table: customers}}
""".replace("HASH_KEY", HASH_KEY)
TOKENIZED = """\
pipeline:
  name: crm_tokens
  security:
    data_masking: {email: tokenize}
    masking_key: TOKEN_KEY
  steps:
    - extract: {type: csv, config: {path: customers.csv}}
    - load: {type: parquet, config: {path: out/customers.parquet}}
""".replace("TOKEN_KEY", TOKEN_KEY)
MASTER_KEY = "a-master-key-for-the-subject-keys"
STREAMED = """\
pipeline:
  name: crm_stream
  security:
    encryption: [email, city]
    key_per: email
    encryption_key: MASTER_KEY
  steps:
    - extract: {type: csv, config: {path: customers.csv}}
    - load: {type: kafka, config: {bootstrap_servers: "BOOTSTRAP", topic: TOPIC}}
""".replace("MASTER_KEY", MASTER_KEY)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:  # noqa: F811
    return create_topic(kafka_bootstrap, unique("crm"))


@pytest.fixture
def folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], kafka_bootstrap: str,  # noqa: F811
           topic: str) -> Path:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    streamed = STREAMED.replace("BOOTSTRAP", kafka_bootstrap).replace("TOPIC", topic)
    for name, text in (("crm_plain", PLAIN), ("crm_hashed", HASHED),
                       ("crm_tokens", TOKENIZED), ("crm_stream", streamed)):
        (tmp_path / f"{name}.yaml").write_text(text)
        code, out = _cli(capsys, "run", str(tmp_path / f"{name}.yaml"))
        assert code == 0, out
    return tmp_path


def _duck(folder: Path) -> list[tuple]:
    con = duckdb.connect(str(folder / "crm.duckdb"), read_only=True)
    try:
        return con.execute("SELECT id, email FROM customers ORDER BY id").fetchall()
    finally:
        con.close()


def _topic(folder: Path, bootstrap: str, topic: str) -> list[dict]:
    """Every message of the topic, decrypted by dteg's own decrypt stage (shredded → null)."""
    from dteg.components.contracts import RunContext
    from dteg.transforms.encrypt import Decrypt
    from dteg.transforms.encrypt_config import DecryptConfig

    messages = consume_all(bootstrap, topic, 5)
    assert len(messages) == 5
    batch = pa.RecordBatch.from_pylist([json.loads(m.value()) for m in messages])
    assert SUBJECT not in json.dumps(batch.to_pylist())  # sealed on the wire
    stage = Decrypt(DecryptConfig(columns=["email", "city"], key=MASTER_KEY),
                    RunContext(pipeline="check", step="decrypt", base_dir=folder, run_id="t"))
    return sorted(stage.apply(batch).kept.to_pylist(), key=lambda r: r["id"])


def _hashed(value: str) -> str:
    return hmac.new(HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def test_erase_removes_the_subject_everywhere_and_leaves_the_rest(
        folder: Path, pg, capsys, kafka_bootstrap: str, topic: str) -> None:  # noqa: F811
    assert [r[0] for r in _duck(folder)] == [1, 2, 3, 4, 5]
    streamed = _topic(folder, kafka_bootstrap, topic)
    assert [(r["id"], r["email"], r["city"]) for r in streamed] == [
        (1, SUBJECT, "London"), (2, "bob@example.com", "Paris"), (3, "cy@example.com", "Rome"),
        (4, SUBJECT, "Oslo"), (5, "dee@example.com", "Lima")]
    assert rows(pg, f"SELECT count(*) FROM customers WHERE email = '{_hashed(SUBJECT)}'") \
        == [(2,)]
    parquet = folder / "out" / "customers.parquet"
    tokens_before = pq.read_table(parquet).column("email").to_pylist()
    assert SUBJECT not in tokens_before and len(tokens_before) == 5

    export_file = folder / "ada.json"
    code, out = _cli(capsys, "privacy", "export", "--subject", f"email={SUBJECT}",
                     "--pipelines", str(folder), "--output", str(export_file))
    assert code == 0, out
    exported = {d["pipeline"]: d for d in json.loads(export_file.read_text())["datasets"]}
    assert {p: d["rows"] for p, d in exported.items()} == {
        "crm_plain": 2, "crm_hashed": 2, "crm_tokens": 2, "crm_stream": 0}
    assert exported["crm_stream"]["status"] == "unsupported"
    assert sorted(r["id"] for r in exported["crm_tokens"]["records"]) == [1, 4]
    assert exported["crm_hashed"]["protection"] == "hash"
    assert exported["crm_tokens"]["protection"] == "tokenize"

    code, out = _cli(capsys, "privacy", "erase", "--subject", f"email={SUBJECT}",
                     "--pipelines", str(folder))
    assert code == 0, out
    assert "4 receipt(s) in the audit log" in out
    assert "crypto-shredded" in out
    # Each dataset, asked with its own client: the subject is gone, the others stay.
    assert _duck(folder) == [(2, "bob@example.com"), (3, "cy@example.com"),
                             (5, "dee@example.com")]
    assert rows(pg, "SELECT id FROM customers ORDER BY id") == [(2,), (3,), (5,)]
    assert rows(pg, "SELECT email FROM customers WHERE id = 2") == [(_hashed("bob@example.com"),)]
    table = pq.read_table(parquet)
    assert sorted(table.column("id").to_pylist()) == [2, 3, 5]
    kept_tokens = [tokens_before[i] for i in (1, 2, 4)]
    assert sorted(table.column("email").to_pylist()) == sorted(kept_tokens)
    # The topic still holds five messages; the subject's two decrypt to null, the others as
    # before.
    assert [(r["id"], r["email"], r["city"]) for r in _topic(folder, kafka_bootstrap, topic)] \
        == [(1, None, None), (2, "bob@example.com", "Paris"), (3, "cy@example.com", "Rome"),
            (4, None, None), (5, "dee@example.com", "Lima")]
    keystore = (folder / ".dteg" / "subject_keys.sqlite").read_bytes()
    assert SUBJECT.encode() not in keystore

    # A second request finds nothing.
    code, out = _cli(capsys, "privacy", "erase", "--subject", f"email={SUBJECT}",
                     "--pipelines", str(folder))
    assert code == 0 and out.count("no rows of the subject") == 4, out

    # One receipt per dataset and request; none holds the subject's address; the chain holds.
    from dteg.auth.audit import AuditLog
    from dteg.orchestrator.store.store import Store

    store = Store.open(f"sqlite:///{folder / '.dteg' / 'orchestrator.sqlite'}")
    log = AuditLog(store.engine)
    erased = [e for e in log.entries() if e.action == "privacy.erase"]
    assert len(erased) == 8
    first = [e for e in erased if e.detail and e.detail["status"] == "erased"]
    assert {e.detail["pipeline"]: e.detail["rows"] for e in first if e.detail} == {
        "crm_plain": 2, "crm_hashed": 2, "crm_tokens": 2}
    shred = [e.detail for e in erased if e.detail and e.detail["status"] == "crypto-shredded"]
    assert [d["pipeline"] for d in shred] == ["crm_stream"]
    assert "destroyed" in shred[0]["message"]
    assert len({e.detail["request_id"] for e in erased if e.detail}) == 2
    assert SUBJECT not in json.dumps([e.as_json() for e in log.entries()], default=str)
    assert log.verify().ok


def test_a_bad_subject_is_a_clear_error(folder: Path, capsys) -> None:
    code, out = _cli(capsys, "privacy", "erase", "--subject", "ada@example.com",
                     "--pipelines", str(folder))
    assert code != 0
    assert "`--subject` must be column=value" in out and "Traceback" not in out
