"""Publisher keys: stored 0600, signatures bound to the artifact's name and sha256."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dteg.errors import ConfigError
from dteg.marketplace import signing


def test_sign_and_verify_an_artifact(tmp_path: Path) -> None:
    key = signing.generate_key()
    artifact = tmp_path / "dteg_x-0.1.0-py3-none-any.whl"
    artifact.write_bytes(b"wheel bytes")
    signed = key.sign_file(artifact)
    good = signing.message(artifact.name, signed["sha256"])
    assert signing.verify(key.public_b64, signed["signature"], good)
    # Another file name, other bytes or another key: refused.
    assert not signing.verify(key.public_b64, signed["signature"],
                              signing.message("dteg_x-0.2.0-py3-none-any.whl", signed["sha256"]))
    assert not signing.verify(key.public_b64, signed["signature"],
                              signing.message(artifact.name, "0" * 64))
    assert not signing.verify(signing.generate_key().public_b64, signed["signature"], good)
    assert not signing.verify(key.public_b64, "not base64!", good)
    assert key.key_id("acme").startswith("acme:") and len(key.key_id("acme")) == 21
    assert "PRIVATE" not in repr(key)


def test_key_is_stored_0600_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "publisher.key"
    key = signing.generate_key()
    signing.save_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing.load_key(path).public_b64 == key.public_b64
    with pytest.raises(ConfigError, match="already exists"):
        signing.save_key(signing.generate_key(), path)
    signing.save_key(signing.generate_key(), path, overwrite=True)
    assert signing.load_key(path).public_b64 != key.public_b64


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = signing.save_key(signing.generate_key(), tmp_path / "k")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        signing.load_key(path)
    with pytest.raises(ConfigError, match="dteg publisher-key generate"):
        signing.load_key(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.write_text("nope")
    os.chmod(bad, 0o600)
    with pytest.raises(ConfigError, match="not a PEM private key"):
        signing.load_key(bad)
