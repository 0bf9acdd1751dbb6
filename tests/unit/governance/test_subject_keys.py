"""Per-subject keys (crypto-shredding): each subject's rows sealed under its own data key,
named by id only; destroying one subject's key makes exactly its values decrypt to null."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dteg.components.contracts import RunContext
from dteg.errors import StepError
from dteg.security.keys import Keyring
from dteg.security.subject_keys import SHREDDED, SubjectKeystore
from dteg.spec.keyring import KeyConfig
from dteg.transforms.encrypt import Decrypt, Encrypt
from dteg.transforms.encrypt_config import DecryptConfig, EncryptConfig

KEY = "a-master-key-for-unit-tests"
ROWS = [{"email": "ada@x.org", "city": "London"}, {"email": "bob@x.org", "city": "Paris"},
        {"email": "ada@x.org", "city": "Oslo"}, {"email": None, "city": "Lima"}]


def _ctx(tmp_path: Path) -> RunContext:
    return RunContext(pipeline="p", step="encrypt", base_dir=tmp_path, run_id="r")


def _sealed(tmp_path: Path) -> pa.RecordBatch:
    stage = Encrypt(EncryptConfig(columns=["email", "city"], key_per="email", key=KEY),
                    _ctx(tmp_path))
    return stage.apply(pa.RecordBatch.from_pylist(ROWS)).kept


def _opened(tmp_path: Path, batch: pa.RecordBatch) -> tuple[list[dict], int]:
    stage = Decrypt(DecryptConfig(columns=["email", "city"], key=KEY), _ctx(tmp_path))
    return stage.apply(batch).kept.to_pylist(), stage.shredded


def _store(tmp_path: Path) -> SubjectKeystore:
    return SubjectKeystore(tmp_path / ".dteg" / "subject_keys.sqlite",
                           Keyring.load([KeyConfig(id="k1", key=KEY)]))


def test_each_subject_has_its_own_key_named_by_id_only(tmp_path: Path) -> None:
    sealed = _sealed(tmp_path).to_pylist()
    ids = [row["email"].split(":")[2] for row in sealed[:3]]
    assert ids[0] == ids[2] != ids[1] and all(i.startswith("s.") for i in ids)
    assert sealed[3]["email"] is None and sealed[3]["city"].startswith("dteg:v1:k1:")
    assert "ada" not in str(sealed)
    assert b"ada@x.org" not in (tmp_path / ".dteg" / "subject_keys.sqlite").read_bytes()
    assert _opened(tmp_path, _sealed(tmp_path)) == (ROWS, 0)


def test_a_shredded_subject_decrypts_to_null_and_the_others_still_open(tmp_path: Path
                                                                       ) -> None:
    batch = _sealed(tmp_path)
    store = _store(tmp_path)
    key_id = batch.column("email")[0].as_py().split(":")[2]
    assert store.shred("email", "ada@x.org").key_id == key_id
    assert store.get(key_id) is SHREDDED
    assert store.shred("email", "ada@x.org").key_id is None  # nothing links it any more
    rows, shredded = _opened(tmp_path, batch)
    assert rows == [{"email": None, "city": None}, ROWS[1], {"email": None, "city": None},
                    ROWS[3]]
    assert shredded == 4
    # New rows of the subject after the erasure get a new key.
    again = _sealed(tmp_path).column("email")[0].as_py().split(":")[2]
    assert again != key_id


def test_a_wrong_master_key_is_a_clear_error(tmp_path: Path) -> None:
    batch = _sealed(tmp_path)
    stage = Decrypt(DecryptConfig(columns=["email"], key="another-master-key-here"),
                    _ctx(tmp_path))
    with pytest.raises(Exception, match="does not open with master key `k1`"):
        stage.apply(batch)


def test_key_per_must_be_encrypted_and_present(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must also be encrypted"):
        EncryptConfig(columns=["city"], key_per="email", key=KEY)
    stage = Encrypt(EncryptConfig(columns=["city", "email"], key_per="email", key=KEY,
                                  missing="ignore"), _ctx(tmp_path))
    with pytest.raises(StepError, match="`key_per: email` names a column the data does not"):
        stage.apply(pa.RecordBatch.from_pylist([{"city": "Rome"}]))


def test_dead_letter_rows_are_sealed_under_the_same_subject_key(tmp_path: Path) -> None:
    stage = Encrypt(EncryptConfig(columns=["email", "city"], key_per="email", key=KEY),
                    _ctx(tmp_path))
    sealed = stage.apply(pa.RecordBatch.from_pylist(ROWS)).kept.to_pylist()
    masked = stage.mask_row({"email": "ada@x.org", "city": "Rome", "note": {"any": [1]}})
    assert masked["note"] == {"any": [1]}
    assert masked["email"].split(":")[2] == sealed[0]["email"].split(":")[2]
