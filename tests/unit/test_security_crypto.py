"""Keys, the encrypted-value format, and the encrypt/decrypt stages on real data files."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import SecretStr, ValidationError

from dteg.errors import ConfigError, StepError
from dteg.security.cipher import decrypt_texts, encrypt_texts, tokenize_texts
from dteg.security.keys import KeyConfig, Keyring, LocalKey, parse_key_text
from dteg.testing import check_source, check_stage
from dteg.transforms.encrypt import EncryptConfig

DATA = Path(__file__).resolve().parents[1] / "data" / "security"
KEY = "unit-test-key-0123456789"
OTHER = "another-key-9876543210"


def read(name: str) -> pa.RecordBatch:
    """A data file as dteg's CSV source reads it (an empty field is null, "" is empty)."""
    table, _dead = check_source("csv", {"path": str(DATA / name)}, base_dir=DATA)
    return table.combine_chunks().to_batches()[0]


def _people() -> pa.RecordBatch:
    return read("people.csv")


def _ring(*pairs: tuple[str, str]) -> Keyring:
    return Keyring.load([KeyConfig(id=i, key=SecretStr(k)) for i, k in pairs])


# --- keys ------------------------------------------------------------------------------------


def test_key_text_forms() -> None:
    raw = bytes(range(32))
    assert parse_key_text("base64:" + base64.b64encode(raw).decode(), where="x") == raw
    assert parse_key_text("hex:" + raw.hex(), where="x") == raw
    assert parse_key_text("  plain-text-key-16b  ", where="x") == b"plain-text-key-16b"


def test_bad_key_text_never_shows_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_key_text("base64:sekrit$$$$", where="key `k1` (environment variable `K`)")
    assert "not valid base64" in str(info.value) and "sekrit" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_key_text("shortkey", where="key `k1`")
    assert "8 bytes; at least 16" in str(info.value) and "shortkey" not in str(info.value)
    assert "openssl rand -base64 32" in str(info.value)


def test_keys_from_env_and_file_are_read_at_load(tmp_path: Path) -> None:
    (tmp_path / "k.txt").write_text(KEY + "\n")
    ring = Keyring.load([KeyConfig(id="a", env="MY_KEY"), KeyConfig(id="b", file="k.txt")],
                        base_dir=tmp_path, environ={"MY_KEY": OTHER})
    assert ring.primary == "a" and set(ring.keys) == {"a", "b"}
    # The file key is the same key as KEY given inline.
    sealed = encrypt_texts(ring.keys["b"], ["x"])
    assert decrypt_texts(_ring(("b", KEY)), sealed).values == ["x"]
    assert "unit-test" not in repr(ring) and "unit-test" not in repr(ring.keys["b"])


def test_missing_key_sources_say_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Keyring.load([KeyConfig(id="k1", env="NOT_SET_ANYWHERE")], environ={})
    assert "`NOT_SET_ANYWHERE` is not set" in str(info.value) and "export" in str(info.value)
    with pytest.raises(ConfigError) as info:
        Keyring.load([KeyConfig(id="k1", file="missing.key")], base_dir=tmp_path)
    assert "cannot read the key file" in str(info.value)
    with pytest.raises(ConfigError, match="two keys have the id `k1`"):
        _ring(("k1", KEY), ("k1", OTHER))


def test_a_key_config_needs_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of key, env, file, vault, transit"):
        KeyConfig(id="k1", env="A", file="b")
    with pytest.raises(ValidationError, match="found none"):
        KeyConfig(id="k1")
    with pytest.raises(ValidationError):
        KeyConfig(id="has:colon", env="A")  # ids are written into values split on ':'


# --- the format ------------------------------------------------------------------------------


VALUES = ["ascii", "김민지", "Zoë 🙂 Martin", "", None, "x" * 200_000]


def test_round_trip_unicode_empty_null_and_very_long_values() -> None:
    ring = _ring(("k1", KEY))
    sealed = encrypt_texts(ring.encrypting, VALUES)
    assert sealed[4] is None  # null stays null; "" is encrypted like any value
    assert all(s.startswith("dteg:v1:k1:") for s in sealed if s is not None)
    # A random nonce per value: equal values encrypt differently.
    assert encrypt_texts(ring.encrypting, ["same", "same"])[0] != \
        encrypt_texts(ring.encrypting, ["same"])[0]
    result = decrypt_texts(ring, sealed)
    assert result.failures == {}
    assert result.values == VALUES


def test_value_layout_is_nonce_ciphertext_tag() -> None:
    ring = _ring(("k1", KEY))
    (sealed,) = encrypt_texts(ring.encrypting, ["abc"])
    raw = base64.b64decode(sealed.removeprefix("dteg:v1:k1:"))
    assert len(raw) == 12 + 3 + 16


def _tamper(value: str, at: int) -> str:
    head, payload = value.rsplit(":", 1)
    raw = bytearray(base64.b64decode(payload))
    raw[at] ^= 0x01
    return f"{head}:{base64.b64encode(bytes(raw)).decode()}"


@pytest.mark.parametrize("at", [0, 12, -1])  # nonce, ciphertext, tag
def test_one_flipped_byte_is_an_authentication_failure(at: int) -> None:
    ring = _ring(("k1", KEY))
    (sealed,) = encrypt_texts(ring.encrypting, ["secret value"])
    result = decrypt_texts(ring, [_tamper(sealed, at)])
    assert result.values == [None]
    assert result.failures[0] == ("authentication failed with key `k1`: the key is wrong or "
                                  "the value was altered")


def test_a_value_moved_to_another_key_id_fails() -> None:
    ring = _ring(("k1", KEY), ("k2", KEY))  # same key text, different ids
    (sealed,) = encrypt_texts(ring.keys["k1"], ["v"])
    moved = sealed.replace("dteg:v1:k1:", "dteg:v1:k2:")
    assert "authentication failed" in decrypt_texts(ring, [moved]).failures[0]


def test_wrong_key_and_rotation() -> None:
    old, new = _ring(("k1", KEY)), _ring(("k2", OTHER))
    sealed_old = encrypt_texts(old.encrypting, ["a"])
    assert "authentication failed" in decrypt_texts(_ring(("k1", OTHER)), sealed_old).failures[0]
    missing = decrypt_texts(new, sealed_old).failures[0]
    assert missing == "encrypted with key `k1`, which the keyring does not have (ids: k2)"
    # A keyring with both keys reads values of either; the first key encrypts.
    both = _ring(("k2", OTHER), ("k1", KEY))
    assert both.encrypting.id == "k2"
    mixed = sealed_old + encrypt_texts(both.encrypting, ["b"])
    assert decrypt_texts(both, mixed).values == ["a", "b"]


def test_malformed_values_from_a_file_each_get_a_reason() -> None:
    rows = read("malformed_ciphertexts.csv").to_pylist()
    result = decrypt_texts(_ring(("k1", KEY)), [r["secret"] for r in rows])
    reasons = {rows[i]["why"]: why for i, why in result.failures.items()}
    assert reasons["not a dteg value"].startswith("not a dteg-encrypted value")
    assert reasons["not base64"] == "malformed: the part after the key id is not valid base64"
    assert reasons["too short"] == "malformed: too short to hold a nonce and a tag"
    assert reasons["unknown version"].startswith("unknown format `dteg:v9`")
    assert reasons["unknown key id"].startswith("encrypted with key `retired`")
    assert reasons["authentication fails"].startswith("authentication failed")
    assert reasons["missing payload"].startswith("not a dteg-encrypted value")
    assert reasons["empty string"].startswith("not a dteg-encrypted value")
    assert "null" not in reasons and result.values[8] is None


def test_tokens_are_deterministic_and_reversible() -> None:
    key = LocalKey.from_material("t1", KEY.encode())
    tokens = tokenize_texts(key, VALUES)
    assert tokens == tokenize_texts(key, VALUES)  # joins still work
    assert tokens[0] != tokens[1] and tokens[4] is None
    assert all(t.startswith("dteg:tok:t1:") for t in tokens if t is not None)
    assert decrypt_texts(_ring(("t1", KEY)), tokens).values == VALUES
    other = LocalKey.from_material("t1", OTHER.encode())
    assert tokenize_texts(other, ["a"]) != tokenize_texts(key, ["a"])


# --- the stages ------------------------------------------------------------------------------


def test_encrypt_then_decrypt_stages_restore_every_column(tmp_path: Path) -> None:
    batch = _people()
    config = {"columns": ["email", "ssn", "amount", "signup"], "key": KEY, "key_id": "k7"}
    sealed = check_stage("encrypt", config, batch, base_dir=tmp_path).kept
    assert sealed is not None
    assert sealed.schema.field("amount").type == pa.string()
    for column in ("email", "ssn", "amount"):
        assert all(v is None or v.startswith("dteg:v1:k7:")
                   for v in sealed.column(column).to_pylist())
    assert sealed.column("email").to_pylist()[4] is None  # null email stays null
    assert sealed.column("name").equals(batch.column("name"))
    back = check_stage("decrypt", {
        "columns": ["email", "ssn", "amount", "signup"], "keys": [{"id": "k7", "key": KEY}],
        "types": {"amount": "double"}}, sealed, base_dir=tmp_path).kept
    assert back is not None
    assert back.column("email").to_pylist() == batch.column("email").to_pylist()
    assert back.column("email").to_pylist()[3] == ""  # empty string, not null
    assert back.column("amount").to_pylist() == batch.column("amount").to_pylist()
    assert back.column("signup").to_pylist() == batch.column("signup").to_pylist()


def test_decrypt_fails_naming_the_column_or_quarantines(tmp_path: Path) -> None:
    batch = read("malformed_ciphertexts.csv")
    with pytest.raises(StepError) as info:
        check_stage("decrypt", {"columns": ["secret"], "key": KEY}, batch, base_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("step `under_test`: 8 value(s) of column `secret` could not be "
                              "decrypted; the first (row 1 of this batch): not a dteg-encrypted")
    assert KEY not in message and "on_error: quarantine" in message
    result = check_stage("decrypt", {"columns": ["secret"], "key": KEY,
                                     "on_error": "quarantine"}, batch, base_dir=tmp_path)
    assert result.kept is not None and result.kept.column("id").to_pylist() == [9]
    assert result.rejected is not None and result.rejected.num_rows == 8
    reasons = result.rejected.column("reason").to_pylist()
    assert reasons[1] == ("`secret` could not be decrypted: malformed: the part after the key "
                          "id is not valid base64")
    assert set(result.rejected.column("column").to_pylist()) == {"secret"}


def test_decrypt_refuses_a_non_text_column(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="column `age` is int64, not text"):
        check_stage("decrypt", {"columns": ["age"], "key": KEY}, _people(), base_dir=tmp_path)


def test_stage_pickles_without_resolved_keys(tmp_path: Path) -> None:
    from dteg.testing import build

    stage = build("transform", "encrypt", {"columns": ["email"], "key": KEY},
                  __import__("dteg.testing").testing.context(tmp_path))
    stage.setup()
    clone = pickle.loads(pickle.dumps(stage))
    assert clone._ring is None
    assert clone.apply(_people()).kept is not None


def test_encrypt_config_defaults_to_the_environment_key() -> None:
    config = EncryptConfig(columns=["a"])
    (key,) = config.keyring_configs()
    assert key.env == "DTEG_ENCRYPTION_KEY" and key.id == "k1"
