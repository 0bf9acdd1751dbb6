"""Security and quality stages in real runs: every rule, masking and encryption on real data
files, round trips, tampering, thresholds that leave targets untouched, restricted access, and
keys from HashiCorp Vault (through hvac, against tests/integration/fake_vault.py)."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.fake_vault import FakeVault

DATA = Path(__file__).resolve().parents[1] / "data" / "security"
KEY = "integration-encryption-key-01"
MASK_KEY = "integration-masking-key-02"


@pytest.fixture
def secure_dir(workdir: Path) -> Path:
    shutil.copy(DATA / "people.csv", workdir / "data" / "people.csv")
    return workdir


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _dead(folder: Path, pipeline: str) -> list[dict]:
    files = sorted((folder / ".dteg" / "dead_letter" / pipeline).glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line]


ALL_RULES = f"""
pipeline:
  name: people
  security:
    data_masking:
      name: tokenize
      phone: {{strategy: partial, keep: 4}}
      ssn: redact
      card: {{strategy: partial, keep: 4}}
    masking_key: {MASK_KEY}
    encryption: [email]
    encryption_key: ${{env:PEOPLE_ENCRYPTION_KEY}}
    encryption_key_id: p1
    access_level: restricted
  quality:
    validation_rules:
      - {{type: null_check, column: email}}
      - {{type: format_check, column: email, pattern: "[^@ ]+@[^@ ]+\\\\.[a-z]{{2,}}"}}
      - {{type: range_check, column: amount, min: 0}}
      - {{type: range_check, name: age_range, column: age, min: 0, max: 120, on_failure: drop}}
      - {{type: accepted_values, column: country, values: [KR, DE, FR, US, GB, JP, CN]}}
      - {{type: length_check, column: name, min_length: 2, max_length: 40}}
      - {{type: type_check, column: signup, data_type: date}}
      - type: expression
        name: big_means_active
        expression: "amount < 100 OR status = 'active'"
      - {{type: unique, column: id}}
  steps:
    - extract:
        type: csv
        config:
          path: data/people.csv
          batch_rows: 4          # several batches, so `unique` must see across them
    - load:
        type: parquet
        config:
          path: out/people.parquet
"""


def test_every_rule_and_strategy_in_one_run(secure_dir, run_pipeline, monkeypatch) -> None:
    monkeypatch.setenv("PEOPLE_ENCRYPTION_KEY", KEY)
    code, report, out = run_pipeline(_write(secure_dir, "people.yaml", ALL_RULES))
    assert code == 0, out
    assert (report["read"], report["loaded"], report["dead_lettered"], report["filtered"]) == \
        (14, 4, 9, 1)
    assert report["reconciles"] is True
    (quality,) = report["quality"]["steps"]
    assert (quality["step"], quality["rows"], quality["invalid"]) == ("validate", 14, 10)
    assert {r["rule"]: r["failed"] for r in quality["rules"]} == {
        "null_check": 1, "format_check": 2, "range_check": 1, "age_range": 1,
        "accepted_values": 1, "length_check": 1, "type_check": 1, "big_means_active": 1,
        "unique": 1}
    # The readable table in the run summary.
    assert "  validate: 10 of 14 rows invalid (71.4%)" in out
    assert "    age_range                   age                           1     7.1%  drop" in out

    loaded = pq.read_table(secure_dir / "out" / "people.parquet").sort_by("id").to_pylist()
    assert [r["id"] for r in loaded] == [1, 2, 3, 14]  # id 3 once: the duplicate went
    first = loaded[0]
    assert first["email"].startswith("dteg:v1:p1:")
    assert first["name"].startswith("dteg:tok:k1:")
    assert (first["phone"], first["ssn"], first["card"]) == (
        "*********5678", "***", "***************1111")
    assert loaded[3]["phone"] is None  # a null stays null through masking

    dead = {d["record"] and json.loads(d["record"])["id"]: d for d in _dead(secure_dir, "people")}
    assert {i: (d["rule"], d["column"]) for i, d in dead.items()} == {
        4: ("format_check", "email"), 5: ("null_check", "email"), 6: ("format_check", "email"),
        7: ("range_check", "amount"), 8: ("accepted_values", "country"),
        10: ("length_check", "name"), 11: ("type_check", "signup"),
        12: ("big_means_active", None), 3: ("unique", "id")}
    # Dead letters are protected exactly like loaded rows: masked, tokenized, encrypted.
    text = json.dumps(list(dead.values()), ensure_ascii=False)
    for raw in ("neg@example.com", "789-01-2345", "Negative Amount", "not-an-email",
                "+44 7700 900123"):
        assert raw not in text, raw
    assert dead[6]["reason"].startswith("`email` = '<encrypted>' does not match")
    record = json.loads(dead[7]["record"])
    assert record["email"].startswith("dteg:v1:p1:") and record["ssn"] == "***"
    assert dead[3]["reason"] == "`id` = 3 is a duplicate (another row has the same value)"


DECRYPT = """
pipeline:
  name: people_read
  steps:
    - extract: {type: parquet, config: {path: out/people.parquet}}
    - decrypt:
        columns: [email, name]
        keys:
          - {id: p1, env: PEOPLE_ENCRYPTION_KEY}
          - {id: k1, key: "%s"}
        %s
    - load: {type: parquet, config: {path: out/people_plain.parquet}}
"""


def _people_rows(ids: list[int]) -> dict[int, dict]:
    from dteg.testing import check_source

    table, _ = check_source("csv", {"path": str(DATA / "people.csv")}, base_dir=DATA)
    rows = {}
    for row in table.to_pylist():
        rows.setdefault(row["id"], row)
    return {i: rows[i] for i in ids}


def _csv_column_pairs(column: str) -> list[tuple[int, object]]:
    from dteg.testing import check_source

    table, _ = check_source("csv", {"path": str(DATA / "people.csv")}, base_dir=DATA)
    return [(r["id"], r[column]) for r in table.to_pylist()]


def test_round_trip_tamper_and_wrong_key(secure_dir, run_pipeline, monkeypatch) -> None:
    monkeypatch.setenv("PEOPLE_ENCRYPTION_KEY", KEY)
    assert run_pipeline(_write(secure_dir, "people.yaml", ALL_RULES))[0] == 0
    reader = _write(secure_dir, "read.yaml", DECRYPT % (MASK_KEY, ""))
    code, report, out = run_pipeline(reader)
    assert code == 0, out
    plain = pq.read_table(secure_dir / "out" / "people_plain.parquet").sort_by("id").to_pylist()
    original = _people_rows([1, 2, 3, 14])
    assert [(r["id"], r["name"], r["email"]) for r in plain] == [
        (i, original[i]["name"], original[i]["email"]) for i in (1, 2, 3, 14)]
    assert plain[0]["name"] == "김민지" and plain[2]["name"] == "Zoë 🙂 Martin"

    # Flip one byte of one encrypted value in the loaded file.
    path = secure_dir / "out" / "people.parquet"
    table = pq.read_table(path)
    emails = table.column("email").to_pylist()
    head, payload = emails[1].rsplit(":", 1)
    raw = bytearray(base64.b64decode(payload))
    raw[20] ^= 0x01
    emails[1] = f"{head}:{base64.b64encode(bytes(raw)).decode()}"
    pq.write_table(table.set_column(table.schema.get_field_index("email"), "email",
                                    pa.array(emails)), path)
    before = (secure_dir / "out" / "people_plain.parquet").read_bytes()
    code, report, out = run_pipeline(reader)
    assert code == 1 and report["status"] == "failed" and "loaded" not in report
    assert "step `decrypt` (" in out and "1 value(s) of column `email` could not be " \
        "decrypted" in out
    assert "authentication failed with key `p1`: the key is wrong or the value was altered" in out
    assert "Traceback" not in out
    assert (secure_dir / "out" / "people_plain.parquet").read_bytes() == before

    # on_error: quarantine dead-letters the altered row and decrypts the rest.
    code, report, out = run_pipeline(_write(secure_dir, "read.yaml",
                                            DECRYPT % (MASK_KEY, "on_error: quarantine")))
    assert code == 0, out
    assert (report["loaded"], report["dead_lettered"]) == (3, 1)

    # A wrong key for every value: a clear error, and neither key in any output.
    monkeypatch.setenv("PEOPLE_ENCRYPTION_KEY", "not-the-right-key-at-all")
    code, _report, out = run_pipeline(_write(secure_dir, "read.yaml", DECRYPT % (MASK_KEY, "")))
    assert code == 1
    assert "4 value(s) of column `email` could not be decrypted" in out
    assert "not-the-right-key-at-all" not in out and KEY not in out


THRESHOLD = """
pipeline:
  name: gated
  quality:
    max_invalid_ratio: %s
    validation_rules:
      - {type: null_check, column: email}
      - {type: range_check, column: amount, min: 0, max_invalid_ratio: %s}
      - {type: unique, column: id}
  steps:
    - extract: {type: csv, config: {path: data/people.csv, batch_rows: 3}}
    - load:
        type: duckdb
        config: {database: .dteg/warehouse.duckdb, table: people, mode: replace}
    - load:
        type: parquet
        config: {path: out/people.parquet}
"""


@pytest.mark.parametrize(("step_max", "rule_max", "expected"), [
    ("0.1", "null", "3 of 14 rows (21.4%) failed validation, above `max_invalid_ratio: 0.1`"),
    ("null", "0.05", "rule `range_check` failed on 1 of 14 rows (7.1%), above its "
                     "`max_invalid_ratio: 0.05`"),
])
def test_threshold_failure_leaves_every_sink_untouched(secure_dir, run_pipeline, step_max,
                                                       rule_max, expected) -> None:
    db = secure_dir / ".dteg" / "warehouse.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE people AS SELECT 42 AS previous")
    con.close()
    (secure_dir / "out").mkdir()
    (secure_dir / "out" / "people.parquet").write_bytes(b"previous output")
    code, report, out = run_pipeline(_write(secure_dir, "gated.yaml",
                                            THRESHOLD % (step_max, rule_max)))
    assert code == 1 and report["status"] == "failed" and "loaded" not in report
    assert "step `validate` (" in out and expected in out
    assert "failures by rule: `null_check` 1, `range_check` 1, `unique` 1" in out
    assert "before any load committed" in out and "Traceback" not in out
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT * FROM people").fetchall() == [(42,)]
    con.close()
    assert (secure_dir / "out" / "people.parquet").read_bytes() == b"previous output"
    assert not list((secure_dir / "out").glob(".*dteg-tmp*"))
    # No dead letters either, not even staged ones.
    assert not [f for f in (secure_dir / ".dteg" / "dead_letter").rglob("*") if f.is_file()]
    # Under the threshold the same pipeline loads.
    code, report, out = run_pipeline(_write(secure_dir, "gated.yaml",
                                            THRESHOLD % ("0.5", "0.5")))
    assert code == 0, out
    assert report["loaded"] == 2 * 11 and report["dead_lettered"] == 3


RESTRICTED = """
pipeline:
  name: restricted
  security:
    access_level: restricted
    data_masking: {masked}
    masking_key: restricted-test-masking-key
  steps:
    - extract: {{type: csv, config: {{path: data/people.csv}}}}
    - load: {{type: parquet, config: {{path: out/people.parquet}}}}
"""


def test_restricted_access_refuses_unmasked_pii_before_loading(secure_dir, run_pipeline) -> None:
    (secure_dir / "out").mkdir()
    (secure_dir / "out" / "people.parquet").write_bytes(b"previous output")
    path = _write(secure_dir, "restricted.yaml", RESTRICTED.format(masked="[email, phone]"))
    code, report, out = run_pipeline(path)
    assert code == 1 and report["status"] == "failed" and "loaded" not in report
    assert "step `load` (" in out and "access_level is `restricted`" in out
    assert "`ssn` (US social security numbers: 13 of 14 sampled values)" in out
    assert "`card` (card numbers (Luhn-valid): 3 of 3 sampled values)" in out
    assert "`email`" not in out.split("personal data:")[1].split("Nothing was loaded")[0]
    assert "{data_masking: {ssn: redact, card: {strategy: partial, keep: 4}}}" in out
    assert "123-45-6789" not in out
    assert (secure_dir / "out" / "people.parquet").read_bytes() == b"previous output"
    path = _write(secure_dir, "restricted.yaml", RESTRICTED.format(
        masked="{email: hash, phone: partial, ssn: redact, card: partial}"))
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["loaded"] == 14


def test_keys_never_reach_output_records_or_errors(secure_dir, run_pipeline, monkeypatch,
                                                   capsys) -> None:
    from dteg.cli import main

    monkeypatch.setenv("PEOPLE_ENCRYPTION_KEY", KEY)
    path = _write(secure_dir, "people.yaml", ALL_RULES)
    code, report, out = run_pipeline(path, "--debug")
    assert code == 0, out
    everything = [out, json.dumps(report)]
    for command in (["plan", str(path)], ["plan", str(path), "-f", "json"],
                    ["runs", "list", str(path)]):
        with contextlib.suppress(SystemExit):
            main(command)
        captured = capsys.readouterr()
        everything.append(captured.out + captured.err)
    for f in (secure_dir / ".dteg").rglob("*"):
        if f.is_file():
            everything.append(f.read_bytes().decode("utf-8", "replace"))
    blob = "\n".join(everything)
    assert KEY not in blob
    assert MASK_KEY not in blob.replace(f'masking_key: {MASK_KEY}', "")  # the YAML as written
    # A missing key is a clear error before anything runs.
    monkeypatch.delenv("PEOPLE_ENCRYPTION_KEY")
    code, _report, out = run_pipeline(path)
    assert code == 2 and "PEOPLE_ENCRYPTION_KEY" in out and "is not set" in out


# --- Vault -----------------------------------------------------------------------------------

VAULT_KV = """
pipeline:
  name: vault_kv
  security:
    encryption: [email, ssn]
    keys:
      - id: v2
        vault: {url: "%(url)s", token: "${env:VAULT_TEST_TOKEN}", mount: secret,
                path: dteg/people, field: current}
  steps:
    - extract: {type: csv, config: {path: data/people.csv}}
    - load: {type: parquet, config: {path: out/vault.parquet}}
"""

VAULT_READ = """
pipeline:
  name: vault_read
  steps:
    - extract: {type: parquet, config: {path: out/vault.parquet}}
    - decrypt:
        columns: [email, ssn]
        keys:
          - {id: v2, vault: {url: "%(url)s", path: dteg/people, field: current}}
    - load: {type: parquet, config: {path: out/vault_plain.parquet}}
"""

VAULT_TRANSIT = """
pipeline:
  name: vault_transit
  steps:
    - extract: {type: csv, config: {path: data/people.csv}}
    - encrypt:
        columns: [ssn]
        keys: [{id: t1, transit: {url: "%(url)s", key_name: people}}]
    - load: {type: parquet, config: {path: out/transit.parquet}}
"""

VAULT_TRANSIT_READ = """
pipeline:
  name: vault_transit_read
  steps:
    - extract: {type: parquet, config: {path: out/transit.parquet}}
    - decrypt:
        columns: [ssn]
        keys: [{id: t1, transit: {url: "%(url)s", key_name: people}}]
    - load: {type: parquet, config: {path: out/transit_plain.parquet}}
"""


@pytest.fixture
def vault(monkeypatch):
    with FakeVault(token="s.test-token-123") as server:
        server.put_kv("secret", "dteg/people", {"current": "vault-kv-key-0123456789"})
        server.add_transit_key("transit", "people")
        monkeypatch.setenv("VAULT_TEST_TOKEN", server.token)
        monkeypatch.setenv("VAULT_TOKEN", server.token)  # read by hvac's fallback in dteg
        yield server


def test_vault_kv_key_round_trip(secure_dir, run_pipeline, vault) -> None:
    code, _report, out = run_pipeline(_write(secure_dir, "kv.yaml",
                                             VAULT_KV % {"url": vault.url}))
    assert code == 0, out
    sealed = pq.read_table(secure_dir / "out" / "vault.parquet").to_pylist()
    assert all(r["ssn"].startswith("dteg:v1:v2:") for r in sealed)
    assert ("GET", "/v1/secret/data/dteg/people") in vault.requests
    code, _report, out = run_pipeline(_write(secure_dir, "kvr.yaml",
                                            VAULT_READ % {"url": vault.url}))
    assert code == 0, out
    plain = pq.read_table(secure_dir / "out" / "vault_plain.parquet").to_pylist()
    assert sorted(((r["id"], r["ssn"]) for r in plain), key=str) == sorted(
        _csv_column_pairs("ssn"), key=str)
    assert sorted(((r["id"], r["email"]) for r in plain), key=str) == sorted(
        _csv_column_pairs("email"), key=str)  # "" and null come back as they were
    assert "vault-kv-key-0123456789" not in out and vault.token not in out


def test_vault_transit_round_trip_and_tampering(secure_dir, run_pipeline, vault) -> None:
    code, _report, out = run_pipeline(_write(secure_dir, "t.yaml",
                                            VAULT_TRANSIT % {"url": vault.url}))
    assert code == 0, out
    sealed = pq.read_table(secure_dir / "out" / "transit.parquet")
    ssns = sealed.column("ssn").to_pylist()
    assert all(s.startswith("dteg:v1:t1:vault:v1:") for s in ssns)
    assert any(path == "/v1/transit/encrypt/people" for _, path in vault.requests)
    reader = _write(secure_dir, "tr.yaml", VAULT_TRANSIT_READ % {"url": vault.url})
    code, _report, out = run_pipeline(reader)
    assert code == 0, out
    plain = pq.read_table(secure_dir / "out" / "transit_plain.parquet").select(["id", "ssn"])
    expected = pq.read_table(secure_dir / "out" / "transit.parquet").select(["id"])
    assert sorted(plain.to_pylist(), key=str) == sorted(
        ({"id": i, "ssn": s} for i, s in _csv_column_pairs("ssn")), key=str)
    assert expected.num_rows == 14
    # Tamper one value: Vault refuses it, dteg names the column.
    head, payload = ssns[5].split(":vault:v1:")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 0x01
    ssns[5] = f"{head}:vault:v1:{base64.b64encode(bytes(raw)).decode()}"
    path = secure_dir / "out" / "transit.parquet"
    pq.write_table(sealed.set_column(sealed.schema.get_field_index("ssn"), "ssn",
                                     pa.array(ssns)), path)
    code, _report, out = run_pipeline(reader)
    assert code == 1
    assert "1 value(s) of column `ssn` could not be decrypted; the first (row 6 of this " \
        "batch): Vault transit key `people` refused it: cipher: message authentication " \
        "failed" in out


def test_vault_errors_are_clear_and_never_show_the_token(secure_dir, run_pipeline, vault,
                                                        monkeypatch) -> None:
    monkeypatch.setenv("VAULT_TEST_TOKEN", "s.wrong-token")
    code, _report, out = run_pipeline(_write(secure_dir, "kv.yaml",
                                             VAULT_KV % {"url": vault.url}))
    assert code == 1
    assert f"Vault ({vault.url}) refused to read key `v2` from KV `secret/dteg/people`" in out
    assert "permission denied" in out and "s.wrong-token" not in out
    bad_field = VAULT_KV.replace("field: current", "field: missing")
    monkeypatch.setenv("VAULT_TEST_TOKEN", vault.token)
    code, _report, out = run_pipeline(_write(secure_dir, "kv.yaml", bad_field % {"url": vault.url}))
    assert code == 2
    assert "the Vault secret `secret/dteg/people` has no field `missing` (fields: current)" in out
