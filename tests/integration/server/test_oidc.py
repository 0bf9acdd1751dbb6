"""Single sign-on against a real OpenID provider (npm ``oidc-provider``, started by
``scripts/services/oidc``) and a real ``dteg server`` subprocess: the code flow with PKCE
driven like a browser (redirects followed, the provider's login form filled), groups mapped
to roles by DTEG_OIDC_GROUP_ROLES (ada: editor on everything, bob: viewer on ``sales_*``,
eve: no role), a spent or foreign callback refused, ``next`` kept on this server, every SSO
login in the audit log; and, in-process, what a browser sees when the provider is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dteg.auth.service import AuthService
from dteg.auth.settings import AuthSettings, OidcSettings, parse_group_roles
from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.store.store import Store
from dteg.server.app import create_app
from dteg.server.context import ServerContext
from tests.integration.oidc_service import (  # noqa: F401
    ADMIN_PASSWORD,
    GROUP_ROLES,
    free_port,
    oidc_provider,
    sign_in,
    sso_server,
    to_callback,
)
from tests.server_api import CLEAN, write_folder

pytestmark = pytest.mark.slow
CSRF = {"X-Requested-With": "test"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, oidc_provider: dict[str, str]  # noqa: F811
           ) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sso")
    folder = write_folder(tmp / "pipelines")
    (folder / "sales_orders.yaml").write_text(
        CLEAN.replace("name: customers", "name: sales_orders").replace(
            "out/customers.csv", "out/sales.csv"))
    empty_ui = tmp / "no-ui"
    empty_ui.mkdir()
    with sso_server(folder, tmp, oidc_provider, tmp / "server.log",
                    env={"DTEG_UI_DIR": str(empty_ui)}) as (_process, base):
        yield base


def names(client: httpx.Client, base: str) -> list[str]:
    answer = client.get(f"{base}/api/v1/pipelines")
    assert answer.status_code == 200, answer.text
    return sorted(p["name"] for p in answer.json()["items"])


def test_the_login_page_is_told_sso_is_on(server: str) -> None:
    answer = httpx.get(f"{server}/api/v1/auth/providers", timeout=30).json()
    assert answer["sso"] is True and answer["sso_url"] == "/api/v1/auth/oidc/login"


def test_ada_in_data_eng_is_an_editor_of_every_pipeline(server: str) -> None:
    client, answer = sign_in(server, "ada", next_path="/pipelines/sales_orders")
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"] == "/pipelines/sales_orders"
    assert {"dteg_access", "dteg_refresh"} <= set(client.cookies.keys())
    me = client.get(f"{server}/api/v1/auth/me").json()
    assert me["name"] == "ada" and me["groups"] == ["data-eng"] and me["sso"] is True
    assert me["bindings"] == [{"role": "editor", "scope": "*"}]
    assert names(client, server) == ["customers", "downstream", "fails", "sales_orders"]
    # An editor may start a run (a change through the session cookie: with the CSRF header).
    run = client.post(f"{server}/api/v1/pipelines/customers/runs", json={}, headers=CSRF)
    assert run.status_code == 201, run.text
    # The session goes on like a password login's: the refresh cookie gives a new token.
    refreshed = client.post(f"{server}/api/v1/auth/refresh", headers=CSRF)
    assert refreshed.status_code == 200, refreshed.text


def test_bob_in_analysts_only_reads_the_sales_pipelines(server: str) -> None:
    client, answer = sign_in(server, "bob")
    assert answer.status_code == 302 and answer.headers["location"] == "/"
    me = client.get(f"{server}/api/v1/auth/me").json()
    assert me["name"] == "bob" and me["bindings"] == [{"role": "viewer", "scope": "sales_*"}]
    assert names(client, server) == ["sales_orders"]
    assert client.get(f"{server}/api/v1/pipelines/sales_orders").status_code == 200
    assert client.get(f"{server}/api/v1/pipelines/customers").status_code == 403
    run = client.post(f"{server}/api/v1/pipelines/sales_orders/runs", json={}, headers=CSRF)
    assert run.status_code == 403, run.text


def test_eve_in_no_mapped_group_signs_in_but_may_do_nothing(server: str) -> None:
    client, answer = sign_in(server, "eve")
    # Signed in (the session cookies are set)...
    assert answer.status_code == 302 and "dteg_access" in client.cookies
    # ...but no role: every route that needs a permission says 403 (not 401), even /me,
    # whose message names her (the UI shows "no access").
    me = client.get(f"{server}/api/v1/auth/me")
    assert me.status_code == 403, me.text
    assert "eve has no role" in me.json()["error"]["message"]
    assert client.get(f"{server}/api/v1/pipelines").status_code == 403
    assert client.get(f"{server}/api/v1/runs").status_code == 403


def test_a_callback_is_used_once_and_only_by_the_browser_that_started_it(server: str
                                                                         ) -> None:
    client, callback = to_callback(server, "ada")
    assert client.get(callback).status_code == 302
    again = client.get(callback, headers={"Accept": "text/html"})
    assert again.status_code == 400
    assert "already used" in again.text and "Start the sign-in again" in again.text
    # A callback URL carried to another browser (login CSRF): refused, and spent.
    _victim_of, carried = to_callback(server, "bob")
    other = httpx.Client(timeout=60).get(carried)
    assert other.status_code == 400, other.text
    assert other.json()["error"]["type"] == "invalid_state"
    assert "another browser" in other.json()["error"]["message"]
    assert _victim_of.get(carried).status_code == 400  # taken by the first attempt


def test_next_never_leaves_this_server(server: str) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        _client, answer = sign_in(server, "ada", next_path=target)
        assert answer.status_code == 302 and answer.headers["location"] == "/", target


def test_a_forged_state_is_refused_without_calling_the_provider(server: str) -> None:
    answer = httpx.get(f"{server}/api/v1/auth/oidc/callback",
                       params={"code": "made-up", "state": "made-up"}, timeout=30)
    assert answer.status_code == 400 and answer.json()["error"]["type"] == "invalid_state"


def test_the_audit_log_has_the_sso_logins(server: str) -> None:
    for user in ("ada", "bob", "eve"):
        sign_in(server, user)
    token = httpx.post(f"{server}/api/v1/auth/token", timeout=30, data={
        "grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD}).json()
    admin = httpx.Client(base_url=server, timeout=30,
                         headers={"Authorization": f"Bearer {token['access_token']}"})
    entries: list[dict[str, Any]] = admin.get("/api/v1/audit",
                                              params={"limit": 1000}).json()["items"]
    sso = [e for e in entries if e["action"] == "auth.login"
           and (e.get("detail") or {}).get("method") == "oidc"]
    succeeded = {e["actor"] for e in sso if e["result"] == "succeeded"}
    assert {"user:ada", "user:bob", "user:eve"} <= succeeded
    ada = next(e for e in sso if e["actor"] == "user:ada" and e["result"] == "succeeded")
    assert ada["detail"]["groups"] == ["data-eng"] and ada["detail"]["subject"] == "ada"
    failed = [e for e in sso if e["result"] == "failed"]
    assert failed and all(e["detail"]["reason"] for e in failed)
    created = [e for e in entries if e["action"] == "users.create"
               and (e.get("detail") or {}).get("source") == "oidc"]
    assert {e["resource"] for e in created} >= {"user:ada", "user:bob", "user:eve"}
    users = {u["name"]: u for u in admin.get("/api/v1/users").json()}
    assert users["ada"]["source"] == "oidc"
    verified = admin.get("/api/v1/audit/verify").json()
    assert verified["ok"] is True, verified


def test_a_provider_that_is_down_gets_a_page_that_says_so(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'o.sqlite'}")
    dead = f"http://127.0.0.1:{free_port()}"
    auth = AuthService(store.engine, AuthSettings(
        admin_password=ADMIN_PASSWORD, oidc=OidcSettings(
            issuer=dead, client_id="dteg", client_secret="x",
            group_roles=parse_group_roles(GROUP_ROLES))))
    folder = write_folder(tmp_path / "pipelines")
    ctx = ServerContext(store=store, catalog=Catalog(folder), auth=auth)
    with TestClient(create_app(ctx)) as client:
        page = client.get("/api/v1/auth/oidc/login", headers={"Accept": "text/html"},
                          follow_redirects=False)
        assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
        assert "did not answer" in page.text and dead in page.text
        as_json = client.get("/api/v1/auth/oidc/login", follow_redirects=False)
        assert as_json.status_code == 502
        assert as_json.json()["error"]["type"] == "sso_unavailable"
    store.close()
