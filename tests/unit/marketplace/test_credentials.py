"""Saved registry tokens: one entry per registry, a file readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dteg.marketplace.credentials import credentials_path, save_token, saved_token


def test_tokens_per_registry_in_a_0600_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert saved_token("http://a") is None
    path = save_token("http://a", "tok-a", "ada")
    save_token("http://b", "tok-b")
    assert path == credentials_path() == tmp_path / "dteg" / "marketplace.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (saved_token("http://a"), saved_token("http://b")) == ("tok-a", "tok-b")
    save_token("http://a", None)
    assert saved_token("http://a") is None and saved_token("http://b") == "tok-b"
    path.write_text("{broken")
    assert saved_token("http://b") is None
