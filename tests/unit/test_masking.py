"""Every masking strategy on real rows (unicode, empty vs null, very long values), and the
row masker that protects dead letters the same way."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import SecretStr, ValidationError

from dteg.security.cipher import decrypt_texts
from dteg.security.keys import KeyConfig, Keyring
from dteg.testing import check_source, check_stage
from dteg.transforms.encrypt import EncryptConfig
from dteg.transforms.mask import MaskConfig, RowMasker

DATA = Path(__file__).resolve().parents[1] / "data" / "security"
KEY = "masking-key-for-tests"
LONG = "가" * 50_000 + "@example.com"


@pytest.fixture(scope="module")
def rows() -> pa.RecordBatch:
    table, _ = check_source("csv", {"path": str(DATA / "people.csv")}, base_dir=DATA)
    batch = table.combine_chunks().to_batches()[0]
    extra = pa.record_batch({"name": ["Long"], "email": [LONG]})
    return pa.concat_batches([batch.select(["name", "email"]), extra])


def _mask(batch: pa.RecordBatch, columns, tmp: Path, **config):
    result = check_stage("mask", {"columns": columns, "key": KEY, **config}, batch,
                         base_dir=tmp)
    assert result.kept is not None
    return result.kept


def test_hash_is_keyed_hmac_sha256_and_keeps_nulls(rows, tmp_path) -> None:
    out = _mask(rows, {"email": "hash"}, tmp_path).column("email").to_pylist()
    emails = rows.column("email").to_pylist()
    for got, raw in zip(out, emails, strict=True):
        if raw is None:
            assert got is None
        else:
            assert got == hmac.new(KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()
    assert out[3] == hmac.new(KEY.encode(), b"", hashlib.sha256).hexdigest()  # "" hashed
    # Deterministic: equal inputs, equal hashes (joins still work).
    assert _mask(rows, {"email": "hash"}, tmp_path).column("email").equals(
        _mask(rows, {"email": "hash"}, tmp_path).column("email"))


def test_redact_partial_email_null(rows, tmp_path) -> None:
    out = _mask(rows, {"name": {"strategy": "partial", "keep": 2},
                       "email": "email"}, tmp_path)
    names = out.column("name").to_pylist()
    assert names[0] == "*민지"  # 김민지: 3 characters, the last 2 kept
    assert names[2] == "*" * 10 + "in"  # "Zoë 🙂 Martin" is 12 characters (not bytes)
    assert names[9] == "*"  # "A": too short to keep anything visible
    emails = out.column("email").to_pylist()
    assert emails[0] == "***@example.com" and emails[3] == "***" and emails[4] is None
    assert emails[5] == "***"  # no @ at all
    assert emails[-1] == "***@example.com"  # very long local part
    redacted = _mask(rows, {"email": {"strategy": "redact", "replacement": "[x]"}}, tmp_path)
    assert redacted.column("email").to_pylist()[:5] == ["[x]", "[x]", "[x]", "[x]", None]
    nulled = _mask(rows, {"email": "null"}, tmp_path)
    assert nulled.column("email").null_count == rows.num_rows


def test_tokenize_is_deterministic_and_reversible(rows, tmp_path) -> None:
    out = _mask(rows, ["name", "email"], tmp_path, strategy="tokenize", key_id="t9")
    tokens = out.column("name").to_pylist()
    assert all(t.startswith("dteg:tok:t9:") for t in tokens)
    again = _mask(rows, ["name"], tmp_path, strategy="tokenize", key_id="t9")
    assert again.column("name").to_pylist() == tokens
    ring = Keyring.load([KeyConfig(id="t9", key=SecretStr(KEY))])
    assert decrypt_texts(ring, tokens).values == rows.column("name").to_pylist()
    back = decrypt_texts(ring, out.column("email").to_pylist()).values
    assert back == rows.column("email").to_pylist()  # "" and null and the long value


def test_tokenize_needs_a_key() -> None:
    with pytest.raises(ValidationError, match="`tokenize` needs a key"):
        MaskConfig(columns={"a": "tokenize"})


def test_row_masker_matches_the_batch_stage(rows, tmp_path) -> None:
    columns = {"name": {"strategy": "partial", "keep": 2}, "email": "hash"}
    batch = _mask(rows, columns, tmp_path)
    masker = RowMasker([MaskConfig.model_validate({"columns": columns, "key": KEY})])
    for raw, masked in zip(rows.to_pylist(), batch.to_pylist(), strict=True):
        assert masker(raw) == masked


def test_row_masker_encrypts_columns_a_later_step_encrypts(tmp_path) -> None:
    masker = RowMasker([MaskConfig(columns=["email"], key=SecretStr(KEY))],
                       [EncryptConfig(columns=["ssn"], key=SecretStr(KEY), key_id="e1")],
                       base_dir=tmp_path)
    out = masker({"email": "a@b.c", "ssn": "123-45-6789", "id": 1})
    assert out["id"] == 1 and len(out["email"]) == 64
    assert out["ssn"].startswith("dteg:v1:e1:")
    ring = Keyring.load([KeyConfig(id="e1", key=SecretStr(KEY))])
    assert decrypt_texts(ring, [out["ssn"]]).values == ["123-45-6789"]
    # Picklable for Beam, without resolved keys.
    import pickle

    clone = pickle.loads(pickle.dumps(masker))
    assert clone._keys == {} and clone({"ssn": None}) == {"ssn": None}


@pytest.mark.parametrize(("value", "keep", "masked"), [
    ("+33 6 12 34 56 78", 4, "************56 78"),
    ("+1 415 555 0101", 4, "***********0101"),
    ("010-1234-5678", 4, "*********5678"),
    ("1 2 3 4", 4, "*******"),  # only four non-space characters: hidden whole
    ("ab cd", 0, "*****"),
])
def test_partial_keeps_the_last_keep_non_space_characters(value, keep, masked) -> None:
    from dteg.spec.masking import ColumnMask
    from dteg.transforms.mask import mask_array, mask_value

    mask = ColumnMask(strategy="partial", keep=keep)
    assert mask_value(mask, b"", value) == masked
    assert mask_array(mask, b"", pa.array([value, None])).to_pylist() == [masked, None]


def test_mask_config_names_the_columns_it_hashes_without_a_key() -> None:
    config = MaskConfig(columns={"email": "hash", "phone": "partial"})
    assert config.unkeyed_hashes() == ["email"]
    assert MaskConfig(columns=["email"], key=SecretStr(KEY)).unkeyed_hashes() == []
