"""Access control in the browser: signing in (a wrong password, then the right one, landing
where the user was going), too many failed sign-ins, what a viewer and a runner see and do
not see, the admin's audit log with its chain verified, the admin page (users, API tokens),
and signing out. Screenshots land beside the other pages'."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    ADMIN,
    WAIT_S,
    Api,
    Server,
    running_server,
    scenario_runner,
)
from tests.integration.orchestrator.server_process import wait_for


@pytest.fixture(scope="module")
def dead_letter_run(server: Server) -> dict[str, Any]:
    """A finished run with dead letters (poison lines and a drop rule)."""
    run = server.wait_finished(server.api.trigger("jsonl_events"))
    assert run["status"] == "succeeded" and (run["rows_dead_lettered"] or 0) > 0, run
    return run


def _token_status(base: str, form: dict[str, str]) -> int:
    request = urllib.request.Request(f"{base}/api/v1/auth/token", method="POST",
                                     data=urllib.parse.urlencode(form).encode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_wrong_password_shows_the_error_then_the_right_one_lands_on_next(
        browser: Any, server: Server, dead_letter_run: dict[str, Any]) -> None:
    result = browser("login", user=None, run_id=dead_letter_run["id"], username=ADMIN[0],
                     password=ADMIN[1], wrong_password="not-the-admin-password")
    target = f"/run/?id={dead_letter_run['id']}"
    assert result["redirectedTo"] == "/login/" and result["next"] == target, result
    # What the page says is what the API answered.
    assert result["api"]["status"] == 401, result["api"]
    error = result["api"]["body"]["error"]
    assert result["shown"]["status"] == 401
    assert result["shown"]["message"] == error["message"] == "wrong user name or password"
    assert error["hint"] in (result["shown"]["hint"] or "")
    assert result["shown"]["passwordCleared"]
    assert result["landed"] == target and result["runId"] == dead_letter_run["id"]


def test_too_many_failed_sign_ins_show_the_apis_wait_message(browser: Any,
                                                              server: Server) -> None:
    result = browser("login_throttled", user=None, username="mallory",
                     wrong_password="guessing-the-password", max_attempts=8)
    assert result["answers"][-1] == 429 and set(result["answers"][:-1]) == {401}, result
    assert result["message"] == result["api"]["message"], result
    assert "too many failed logins" in result["message"]
    assert result["api"]["hint"] in result["hint"] and "Wait" in result["hint"]
    assert "wait" in result["title"].lower()
    # The delay is per address too: wait (for the condition, not a fixed time) until this
    # address may sign in again, so the scenarios after this one are not refused.
    wait_for(lambda: _token_status(server.base, {"grant_type": "password",
                                                 "username": ADMIN[0],
                                                 "password": ADMIN[1]}) == 200,
             "the login delay to pass", timeout=WAIT_S, log=server.process.log)


def test_a_viewer_sees_no_buttons_no_admin_links_and_no_dead_letters(
        browser: Any, server: Server, dead_letter_run: dict[str, Any]) -> None:
    viewer = server.user("viewer")
    result = browser("viewer", user=viewer, pipeline="quickstart",
                     run_id=dead_letter_run["id"])
    seen = Api(server.base, viewer).get("/pipelines")["items"]
    assert result["pipelines"] == len(seen) > 0
    assert all(p["permissions"] == [] for p in seen), seen
    assert result["name"] == viewer[0]
    assert result["pipelineActions"] == 0 and result["pipelinePageActions"] == 0, result
    assert result["runButtons"] == 0, result
    assert not {"nav-audit", "nav-admin"} & set(result["navLinks"]), result["navLinks"]
    # Validating is a read: it stays, and says that saving needs more.
    assert result["validateReadOnly"]
    assert "You need the dead_letters.read permission to see rejected records" in \
        result["deadLetterNote"]
    assert result["deadLetterCalls"] == [], "the page asked for dead letters it may not read"
    assert "audit.read" in result["auditForbidden"]
    assert "users.manage" in result["adminForbidden"]


def test_a_runner_sees_run_now_and_retry(browser: Any, server: Server,
                                         dead_letter_run: dict[str, Any]) -> None:
    runner = server.user("runner")
    result = browser("runner", user=runner, pipeline="fan_out", run_id=dead_letter_run["id"])
    assert result["runNow"] == result["pipelines"] == result["pause"] > 0, result
    assert result["retry"]
    assert not {"nav-audit", "nav-admin"} & set(result["navLinks"]), result["navLinks"]


def test_admin_audit_page_shows_triggers_and_sign_ins_and_verifies_the_chain(
        browser: Any, server: Server) -> None:
    run_id = server.api.trigger("csv_to_parquet")
    result = browser("audit")
    rows = result["rows"]
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs), seqs
    assert any(r["action"] == "runs.trigger" and r["resource"] == "pipeline:csv_to_parquet"
               and r["actor"] == "user:admin" and r["result"] == "succeeded" for r in rows), rows
    # The scenario's own sign-in through the login page is among the newest.
    assert any(r["action"] == "auth.login" and r["actor"] == "user:admin"
               and r["result"] == "succeeded" for r in rows[:10]), rows[:10]
    api = server.api.get("/audit?limit=1000")["items"]
    by_seq = {e["seq"]: e for e in api}
    for row in rows:
        entry = by_seq[row["seq"]]
        assert (row["action"], row["actor"], row["result"], row["resource"]) == (
            entry["action"], entry["actor"], entry["result"], entry["resource"]), row
    assert result["ok"] == "true" and result["status"] == "ok", result
    assert server.api.get("/audit/verify")["ok"]
    assert result["exportHref"] == "/api/v1/audit/export"
    server.wait_finished(run_id)


def test_admin_page_manages_users_and_api_tokens(browser: Any, server: Server) -> None:
    result = browser("admin", new_user="dana_test", password="dana-password-for-the-test",
                     token="ci-browser-test")
    assert result["created"] == "viewer on *"
    assert result["changed"] == "runner on sales_*"
    assert result["disabled"] and result["deleted"]
    assert all(u["name"] != "dana_test" for u in server.api.get("/users"))
    assert "only time" in result["warning"]
    assert result["copied"] and result["secretGone"]
    assert result["tokenMe"] == {"status": 200, "name": "token:ci-browser-test"}
    token = next(t for t in server.api.get("/tokens") if t["id"] == result["tokenId"])
    assert token["revoked_at"] and token["bindings"] == [{"role": "viewer", "scope": "*"}]
    # Revoked: the secret no longer opens anything.
    request = urllib.request.Request(f"{server.base}/api/v1/auth/me",
                                     headers={"Authorization": f"Bearer {result['secret']}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["error"]["type"] == "unauthenticated"


def test_sign_out_sends_protected_pages_to_the_login_page(
        browser: Any, dead_letter_run: dict[str, Any]) -> None:
    result = browser("sign_out", run_id=dead_letter_run["id"])
    assert result["afterSignOut"] == "/login/"
    assert result["refresh"] == 401, "signing out should revoke the refresh cookie"
    assert result["redirectedTo"] == "/login/"
    assert result["next"] == f"/run/?id={dead_letter_run['id']}"
    assert "dteg_access" not in result["cookies"], result["cookies"]


@pytest.fixture(scope="module")
def short_sessions(tmp_path_factory: pytest.TempPathFactory, chromium: str, node: str,
                   artifacts: Path) -> Iterator[tuple[Server, Any]]:
    """A second server whose access tokens (and cookies) last 4 seconds."""
    with running_server(tmp_path_factory.mktemp("short"), artifacts, "server-short.log",
                        {"DTEG_ACCESS_TOKEN_TTL": "4s"}) as started:
        yield started, scenario_runner(started, chromium, node, artifacts)


def test_an_expired_session_cookie_is_refreshed_without_leaving_the_page(
        short_sessions: tuple[Server, Any]) -> None:
    server, browser = short_sessions
    result = browser("session_refresh", pipeline="csv_to_parquet")
    assert result["refreshStatus"] == 200
    # Refused once the cookie was gone, then refreshed, then answered again.
    assert ["/api/v1/pipelines", 401] in result["seen"], result["seen"]
    assert ["/api/v1/pipelines", 200] in result["afterRefresh"], result
    assert result["url"] == "/run/" and result["runId"]
    run = server.api.get(f"/runs/{result['runId']}")
    assert run["pipeline"] == "csv_to_parquet", run
    # Started with the refreshed cookie, as the signed-in admin (the run record itself does
    # not name who triggered it yet: `triggered_by` stays empty — see the report).
    audit = server.api.get("/audit?limit=200")["items"]
    assert any(e["action"] == "runs.trigger" and e["actor"] == "user:admin"
               and e["resource"] == "pipeline:csv_to_parquet" and e["status"] == 201
               for e in audit), audit[:10]
    server.wait_finished(result["runId"])
