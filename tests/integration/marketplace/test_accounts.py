"""Registry accounts against a real registry (FerretDB): the admin creates users whose tokens
are shown once and stored only as sha256, `GET /api/v1/me`, admin-only routes, the audit
collection, and `dteg marketplace login --token T` saving the token (0600) that the client
then sends."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dteg.marketplace.client import RegistryClient, RegistryError
from tests.integration.cloud_services import REPO
from tests.integration.marketplace.conftest import ADMIN_TOKEN, Registry

pytestmark = pytest.mark.timeout(600)


def dteg(*args: str, config: Path, registry: Registry) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(config),
           "DTEG_MARKETPLACE_URL": registry.url}
    env.pop("DTEG_MARKETPLACE_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "dteg.cli", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False)


def _users(registry: Registry, mongodb_url: str) -> Any:
    import pymongo

    client: Any = pymongo.MongoClient(mongodb_url, serverSelectionTimeoutMS=10_000)
    return client, client[registry.database].users


def test_users_tokens_me_and_audit(registry: Registry, mongodb_url: str) -> None:
    anonymous = registry.client()
    token = anonymous.create_user("ada", ADMIN_TOKEN, organisation="Analytical Engines")
    assert token.startswith("dtegusr_")
    me = registry.client(token).me()
    assert me == {"name": "ada", "organisation": "Analytical Engines", "role": "user",
                  "publisher": None}
    assert registry.client(ADMIN_TOKEN).me()["role"] == "admin"

    # Only the sha256 of the token is stored; the token itself appears nowhere.
    mongo, users = _users(registry, mongodb_url)
    try:
        doc = users.find_one({"_id": "ada"})
    finally:
        mongo.close()
    assert doc["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(doc)

    with pytest.raises(RegistryError) as no_token:
        anonymous.me()
    assert no_token.value.status == 401 and "dteg marketplace login" in no_token.value.message
    with pytest.raises(RegistryError) as bad:
        registry.client("dtegusr_not-a-token").me()
    assert bad.value.status == 401
    # A user is not an admin: it can neither create users nor read the audit log.
    with pytest.raises(RegistryError) as refused:
        registry.client(token).create_user("eve", token)
    assert refused.value.status == 403 and "not a registry admin" in refused.value.message
    with pytest.raises(RegistryError) as taken:
        anonymous.create_user("ada", ADMIN_TOKEN)
    assert taken.value.status == 409
    with pytest.raises(RegistryError) as invalid:
        anonymous.create_user("admin", ADMIN_TOKEN)
    assert invalid.value.status == 400

    # An admin user (not only the admin token) may create users; both are audited.
    boss = anonymous.create_user("boss", ADMIN_TOKEN, role="admin")
    registry.client(boss).create_user("grace", boss)
    created = {(e["who"], e["target"]) for e in
               registry.client(boss).audit(action="user.create")}
    assert {("admin", "user:ada"), ("admin", "user:boss"), ("boss", "user:grace")} <= created
    with pytest.raises(RegistryError) as not_admin:
        registry.client(token).audit()
    assert not_admin.value.status == 403


def test_login_saves_the_token_and_the_client_sends_it(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = registry.client().create_user("linus", ADMIN_TOKEN)
    config = tmp_path / "config"
    done = dteg("marketplace", "login", "--token", token, config=config, registry=registry)
    assert done.returncode == 0, done.stderr
    assert f"signed in to {registry.url} as linus (user)" in done.stdout
    assert token not in done.stdout + done.stderr
    saved = config / "dteg" / "marketplace.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv("DTEG_MARKETPLACE_TOKEN", raising=False)
    with RegistryClient(registry.url) as client:
        assert client.me()["name"] == "linus"

    wrong = dteg("marketplace", "login", "--token", "dtegusr_wrong", config=tmp_path / "other",
                 registry=registry)
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert "401" in wrong.stderr and "dtegusr_wrong" not in wrong.stderr
    assert not (tmp_path / "other" / "dteg" / "marketplace.json").exists()
