"""Access control over the real app: every route but health, sign-in, the JWKS and the
OpenAPI document answers 401 without a token; every mutating route answers 403 to a role
without its permission and is audited either way; lists show only what a caller's scopes
cover; restricted pipelines and dead letters need their own grants; session cookies need
the CSRF header; failed logins are throttled; tokens are shown once and revocable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from dteg.server.access import MUTATING, declared_routes
from tests.server_api import ADMIN_PASSWORD, CLEAN, Api, write_folder

pytestmark = pytest.mark.slow

PUBLIC = {"/api/v1/health", "/healthz", "/api/v1/auth/token", "/api/v1/auth/login",
          "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/jwks",
          "/api/v1/auth/providers", "/api/v1/auth/oidc/login",
          "/api/v1/auth/oidc/callback",
          "/.well-known/jwks.json", "/api/v1/openapi.json", "/api/v1/docs",
          "/docs/oauth2-redirect", "/"}
RESTRICTED = CLEAN.replace("name: customers", "name: payroll").replace(
    '  schedule: "*/5 * * * *"\n', "").replace(
    "  security:\n", "  security:\n    access_level: restricted\n"
    "    masking_key: a-test-masking-key-that-is-long-enough\n").replace(
    "out/customers.csv", "out/payroll.csv")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("access")
    folder = write_folder(tmp / "pipelines")
    (folder / "sales_orders.yaml").write_text(
        CLEAN.replace("name: customers", "name: sales_orders").replace(
            "out/customers.csv", "out/sales.csv"))
    (folder / "payroll.yaml").write_text(RESTRICTED)
    handle = Api(folder, tmp, auth=True)
    runs = {name: handle.run_now(name) for name in ("customers", "sales_orders", "payroll")}
    yield handle, runs
    handle.close()


def _path(template: str, runs: dict[str, str], api: Api) -> str:
    values = {"name": "customers", "run_id": runs["customers"], "user": "admin",
              "token_id": "abc123", "role": "auditor", "component": "kafka-extractor",
              "version": "1.0.0", "publisher": "dteg"}
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values[m.group(1)], template)


def _call(api: Api, method: str, path: str, headers: dict[str, str] | None = None
          ) -> tuple[int, str]:
    kwargs: dict[str, object] = {"headers": headers or {}}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    if path == "/api/v1/auth/token":
        kwargs = {"headers": headers or {}, "data": {"grant_type": "password"}}
    answer = api.client.request(method, path, **kwargs)  # type: ignore[arg-type]
    try:
        kind = str(answer.json()["error"]["type"])
    except (ValueError, KeyError, TypeError):
        kind = ""
    return answer.status_code, kind


def _routes(api: Api) -> list[tuple[str, str, bool, str]]:
    found = []
    for route in declared_routes(api.client.app):
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, route.path, route.mutates or bool(
                set(route.actions) & MUTATING),
                          route.actions[0] if route.actions else ""))
    return found


def test_every_route_needs_a_token_but_the_public_ones(api: tuple[Api, dict[str, str]]) -> None:
    handle, runs = api
    routes = _routes(handle)
    assert len(routes) >= 40
    wrong = []
    for method, template, _mutates, _action in routes:
        status, kind = _call(handle, method, _path(template, runs, handle))
        public = template in PUBLIC
        if public and kind == "unauthenticated":
            wrong.append(f"{method} {template}: asks for a token, but it must answer without")
        if not public and (status, kind) != (401, "unauthenticated"):
            wrong.append(f"{method} {template}: {status} without a token")
    assert not wrong, "\n".join(wrong)


def test_mutating_routes_refuse_a_role_without_the_permission_and_audit_both(
        api: tuple[Api, dict[str, str]]) -> None:
    handle, runs = api
    assert handle.auth is not None
    viewer = {"Authorization": f"Bearer {handle.token(('viewer', '*'), name='v1')}"}
    wrong = []
    mutating = [(m, p) for m, p, mutates, _a in _routes(handle)
                if mutates and p not in PUBLIC and p != "/api/v1/pipelines/validate"]
    assert len(mutating) >= 14
    for method, template in mutating:
        path = _path(template, runs, handle)
        for headers, expected in ((viewer, 403), ({}, 401)):
            before = handle.auth.audit.count()
            status, _kind = _call(handle, method, path, headers)
            entries = handle.auth.audit.entries(after=before)
            if status != expected:
                wrong.append(f"{method} {template}: {status}, not {expected}")
            elif not any(e.result == "denied" and e.status == expected for e in entries):
                wrong.append(f"{method} {template}: no audit entry for the {expected}")
    assert not wrong, "\n".join(wrong)
    allowed_before = handle.auth.audit.count()
    assert handle.client.post("/api/v1/pipelines/customers/pause",
                              headers=handle.admin_headers()).status_code == 200
    (entry,) = [e for e in handle.auth.audit.entries(after=allowed_before)
                if e.action == "pipelines.pause"]
    assert (entry.actor, entry.resource, entry.result, entry.status) == (
        "user:admin", "pipeline:customers", "succeeded", 200)
    assert entry.address == "testclient"
    assert handle.auth.audit.verify().ok


def test_a_scoped_viewer_sees_only_its_pipelines_and_their_runs(
        api: tuple[Api, dict[str, str]]) -> None:
    handle, runs = api
    sales = {"Authorization": f"Bearer {handle.token(('viewer', 'sales_*'))}"}
    names = [p["name"] for p in handle.client.get("/api/v1/pipelines", headers=sales).json()[
        "items"]]
    assert names == ["sales_orders"]
    listed = handle.client.get("/api/v1/runs?limit=500", headers=sales).json()["items"]
    assert {r["pipeline"] for r in listed} == {"sales_orders"}
    assert handle.client.get(f"/api/v1/runs/{runs['customers']}", headers=sales
                             ).status_code == 403
    assert handle.client.get(f"/api/v1/runs/{runs['sales_orders']}", headers=sales
                             ).status_code == 200
    overview = handle.client.get("/api/v1/overview", headers=sales).json()
    assert sum(overview["runs_by_status"].values()) == 1
    lineage = handle.client.get("/api/v1/lineage", headers=sales).json()
    assert {n["label"] for n in lineage["graph"]["nodes"] if n["kind"] == "pipeline"} == {
        "sales_orders"}
    assert "customers.csv" not in str(lineage) or all(
        d["producers"] in ([], ["sales_orders"]) for d in lineage["datasets"])


def test_restricted_pipelines_need_a_role_scoped_to_them(
        api: tuple[Api, dict[str, str]]) -> None:
    handle, runs = api
    everyone = {"Authorization": f"Bearer {handle.token(('editor', '*'))}"}
    named = {"Authorization": f"Bearer {handle.token(('viewer', 'payroll'))}"}
    names = {p["name"] for p in handle.client.get("/api/v1/pipelines", headers=everyone
                                                  ).json()["items"]}
    assert "payroll" not in names and "customers" in names
    assert handle.client.get("/api/v1/pipelines/payroll", headers=everyone).status_code == 403
    assert handle.client.get(f"/api/v1/runs/{runs['payroll']}", headers=everyone
                             ).status_code == 403
    assert handle.client.get("/api/v1/pipelines/payroll", headers=named).status_code == 200
    admin = handle.client.get("/api/v1/pipelines", headers=handle.admin_headers()).json()
    assert "payroll" in {p["name"] for p in admin["items"]}


def test_dead_letters_need_their_own_permission_and_their_reads_are_audited(
        api: tuple[Api, dict[str, str]]) -> None:
    handle, runs = api
    assert handle.auth is not None
    runner = {"Authorization": f"Bearer {handle.token(('runner', '*'))}"}
    editor = {"Authorization": f"Bearer {handle.token(('editor', '*'), name='ed')}"}
    path = f"/api/v1/runs/{runs['customers']}/dead-letters"
    assert handle.client.get(path, headers=runner).status_code == 403
    before = handle.auth.audit.count()
    assert handle.client.get(path, headers=editor).json()["total"] == 2
    (entry,) = handle.auth.audit.entries(after=before)
    assert (entry.action, entry.actor, entry.result) == ("dead_letters.read", "user:ed",
                                                         "succeeded")
    listed = handle.client.get("/api/v1/pipelines", headers=runner).json()["items"]
    row = next(p for p in listed if p["name"] == "customers")
    assert "runs.trigger" in row["permissions"] and "dead_letters.read" not in row[
        "permissions"] and "pipelines.write" not in row["permissions"]


def test_the_ui_session_cookie_needs_the_csrf_header_for_changes(
        api: tuple[Api, dict[str, str]]) -> None:
    handle, _runs = api
    client = handle.client
    signed = client.post("/api/v1/auth/login",
                         json={"username": "admin", "password": ADMIN_PASSWORD})
    assert signed.status_code == 200 and signed.json()["name"] == "admin"
    assert "httponly" in signed.headers["set-cookie"].lower()
    try:
        assert client.get("/api/v1/pipelines").status_code == 200  # the cookie alone
        assert client.post("/api/v1/pipelines/customers/resume").status_code == 403
        assert client.post("/api/v1/pipelines/customers/resume",
                           headers={"X-Requested-With": "dteg"}).status_code == 200
        refreshed = client.post("/api/v1/auth/refresh")
        assert refreshed.status_code == 200
    finally:
        assert client.post("/api/v1/auth/logout").status_code == 204
        client.cookies.clear()
    assert client.get("/api/v1/pipelines").status_code == 401


def test_failed_logins_are_throttled(api: tuple[Api, dict[str, str]]) -> None:
    handle, _runs = api
    statuses = [handle.client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": "nobody", "password": "x"}).status_code
        for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and statuses[-1] == 429
    assert handle.auth is not None
    handle.auth.throttle.unlock(username="nobody", address="testclient")


def test_jwks_verifies_the_servers_tokens(api: tuple[Api, dict[str, str]]) -> None:
    handle, _runs = api
    token = handle.admin_headers()["Authorization"].split()[1]
    keys = handle.client.get("/.well-known/jwks.json").json()
    (key,) = [k for k in keys["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="dteg-api",
                        issuer="dteg", options={"verify_exp": False, "verify_nbf": False})
    assert claims["sub"].startswith("user:")


def test_api_tokens_users_and_the_last_admin(api: tuple[Api, dict[str, str]]) -> None:
    handle, _runs = api
    admin = handle.admin_headers()
    made = handle.client.post("/api/v1/tokens", headers=admin, json={
        "name": "ci", "bindings": [{"role": "runner", "scope": "sales_*"}]})
    assert made.status_code == 201, made.text
    secret, tid = made.json()["token"], made.json()["id"]
    listed = handle.client.get("/api/v1/tokens", headers=admin).text
    assert secret not in listed and tid in listed
    ci = {"Authorization": f"Bearer {secret}"}
    assert handle.client.post("/api/v1/pipelines/sales_orders/runs", json={}, headers=ci
                              ).status_code == 201
    assert handle.client.post("/api/v1/pipelines/customers/runs", json={}, headers=ci
                              ).status_code == 403
    assert handle.client.delete(f"/api/v1/tokens/{tid}", headers=admin).status_code == 204
    assert handle.client.get("/api/v1/pipelines", headers=ci).status_code == 401

    created = handle.client.post("/api/v1/users", headers=admin, json={
        "name": "carol", "password": "carol's long password",
        "bindings": [{"role": "viewer", "scope": "*"}]})
    assert created.status_code == 201, created.text
    carol = handle.client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": "carol", "password": "carol's long password"})
    carol_headers = {"Authorization": f"Bearer {carol.json()['access_token']}"}
    assert handle.client.get("/api/v1/auth/me", headers=carol_headers).json()["name"] == "carol"
    assert handle.client.delete("/api/v1/users/carol", headers=admin).status_code == 204
    assert handle.client.get("/api/v1/pipelines", headers=carol_headers).status_code == 401
    last = handle.client.patch("/api/v1/users/admin", headers=admin,
                               json={"bindings": [{"role": "viewer", "scope": "*"}]})
    assert last.status_code == 409
    weak = handle.client.post("/api/v1/users", headers=admin,
                              json={"name": "dave", "password": "short"})
    assert weak.status_code == 422


def test_the_audit_log_verifies_and_exports(api: tuple[Api, dict[str, str]],
                                            tmp_path: Path) -> None:
    handle, _runs = api
    admin = handle.admin_headers()
    verdict = handle.client.get("/api/v1/audit/verify", headers=admin).json()
    assert verdict["ok"] and verdict["entries"] > 10
    exported = handle.client.get("/api/v1/audit/export", headers=admin).text
    assert len(exported.splitlines()) >= verdict["entries"]
    from dteg.auth.audit import verify_jsonl

    path = tmp_path / "audit.jsonl"
    path.write_text(exported)
    assert verify_jsonl(path).ok
    assert ADMIN_PASSWORD not in exported
