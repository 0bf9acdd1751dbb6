"""The REST API source (`type: http` / `rest`) against a real HTTP server on 127.0.0.1
(tests/integration/rest_api.py): every pagination style, every auth style, throttling,
injected 5xx, timeouts, a server that goes away, non-JSON pages and schema breaks, and
incremental runs with crash settlement through `dteg run`."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dteg.errors import ConnectorError
from dteg.testing import check_source
from tests.integration.conftest import REPO
from tests.integration.rest_api import RestApi, make_record, serve

pytestmark = pytest.mark.integration
TOKEN = {"type": "bearer", "token": "s3cret-token"}
FAST_RETRY = {"attempts": 4, "initial_seconds": 0.05, "max_seconds": 0.5,
              "deadline_seconds": 60}


def _api(n: int = 250, **kw: Any) -> RestApi:
    return RestApi(rows=[make_record(i) for i in range(1, n + 1)], **kw)


STYLES: dict[str, dict[str, Any]] = {
    "page": {"url": "/page", "records": "$.data",
             "pagination": {"style": "page", "size_param": "per_page", "size": 100}},
    "offset": {"url": "/offset", "records": "items",
               "pagination": {"style": "offset", "size": 100}},
    "cursor": {"url": "/cursor", "records": "$.results",
               "pagination": {"style": "cursor", "cursor_path": "meta.next_cursor"}},
    "link": {"url": "/link", "pagination": {"style": "link"}},
    "next_url": {"url": "/next", "records": "data",
                 "pagination": {"style": "next_url", "next_url_path": "$.links.next"}},
    "post_body": {"url": "/search", "method": "POST", "records": "data",
                  "body": {"filter": "all", "per_page": 100},
                  "pagination": {"style": "page", "location": "body", "size": 100}},
}


def _config(base: str, style: str, **extra: Any) -> dict[str, Any]:
    config = {**STYLES[style], "auth": TOKEN, "retry": FAST_RETRY, **extra}
    config["url"] = base + config["url"]
    return config


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_pagination_style_reads_every_record_once(tmp_path: Path, style: str) -> None:
    api = _api(250)
    with serve(api) as base:
        table, dead = check_source("http", _config(base, style), base_dir=tmp_path)
    assert sorted(table.column("id").to_pylist()) == list(range(1, 251))
    assert dead.num_rows == 0
    # Nested values without a declared schema stay JSON text.
    first = table.slice(0, 1).to_pylist()[0]
    assert first["address"] == '{"city": "city1", "zip": "10001"}'
    assert first["tags"] == '["t1"]'
    if style == "post_body":
        assert all(r[0] == "POST" and r[3]["filter"] == "all" for r in api.requests)


def test_declared_schema_flattens_and_types(tmp_path: Path) -> None:
    with serve(_api(30)) as base:
        table, dead = check_source("rest", _config(base, "page", schema={
            "id": "int", "address.city": "string", "address.zip": "string",
            "updated_at": "timestamptz", "amount": "decimal(10,2)"}), base_dir=tmp_path)
    assert table.column_names == ["id", "address_city", "address_zip", "updated_at", "amount"]
    row = table.slice(1, 1).to_pylist()[0]
    assert row["address_city"] == "city2" and str(row["amount"]) == "2.50"
    assert row["updated_at"].isoformat() == "2026-01-01T00:00:02+00:00"
    assert dead.num_rows == 0


@pytest.mark.parametrize(("server", "auth"), [
    ("basic", {"type": "basic", "username": "ada", "password": "pa55word"}),
    ("api_key_header", {"type": "api_key", "value": "k3y-value"}),
    ("api_key_query", {"type": "api_key", "name": "api_key", "in": "query",
                       "value": "k3y-value"}),
])
def test_auth_styles(tmp_path: Path, server: str, auth: dict[str, Any]) -> None:
    with serve(_api(120, auth=server)) as base:
        table, _ = check_source("http", _config(base, "page", auth=auth), base_dir=tmp_path)
    assert table.num_rows == 120


def test_oauth2_client_credentials_refreshes_its_token(tmp_path: Path) -> None:
    """Tokens live 1 s; 25 pages at 10 requests/s outlive several: the source fetches new
    ones before they expire (and after a 401), and every page is read."""
    api = _api(250, auth="oauth2", token_lifetime=1)
    with serve(api) as base:
        auth = {"type": "oauth2", "token_url": base + "/oauth/token", "client_id": "dteg",
                "client_secret": "client-s3cret", "refresh_margin_seconds": 0.2}
        config = _config(base, "page", auth=auth, max_requests_per_second=10,
                         pagination={"style": "page", "size_param": "per_page", "size": 10})
        table, _ = check_source("http", config, base_dir=tmp_path)
    assert sorted(table.column("id").to_pylist()) == list(range(1, 251))
    assert api.tokens_issued >= 2


@pytest.mark.parametrize(("server", "auth", "secret"), [
    ("bearer", {"type": "bearer", "token": "wrong-token-123"}, "wrong-token-123"),
    ("api_key_query", {"type": "api_key", "name": "api_key", "in": "query",
                       "value": "wrong-key-456"}, "wrong-key-456"),
    ("oauth2", {"type": "oauth2", "token_url": "{base}/oauth/token", "client_id": "dteg",
                "client_secret": "wrong-secret-789"}, "wrong-secret-789"),
])
def test_refused_credentials_are_one_clear_message_without_the_secret(
        tmp_path: Path, server: str, auth: dict[str, Any], secret: str) -> None:
    api = _api(10, auth=server)
    with serve(api) as base:
        if "token_url" in auth:
            auth = {**auth, "token_url": auth["token_url"].format(base=base)}
        with pytest.raises(ConnectorError) as info:
            check_source("http", _config(base, "page", auth=auth), base_dir=tmp_path)
    text = str(info.value)
    assert "refused" in text and "auth" in text, text
    assert secret not in text
    assert not info.value.retriable
    assert len(api.requests) == 1  # a refusal is not retried


def test_throttled_429_waits_for_retry_after_and_the_rate_ceiling_holds(tmp_path: Path) -> None:
    api = _api(250, fail_pages={2: [429, 429]}, retry_after="1")
    with serve(api) as base:
        config = _config(base, "page", max_requests_per_second=8,
                         pagination={"style": "page", "size_param": "per_page", "size": 25})
        started = time.monotonic()
        table, _ = check_source("http", config, base_dir=tmp_path)
        elapsed = time.monotonic() - started
    assert sorted(table.column("id").to_pylist()) == list(range(1, 251))
    pages = [int(q["page"]) for _, _, q, _ in api.requests]
    assert pages.count(2) == 3
    assert elapsed >= 2.0  # two Retry-After: 1 waits
    # 13 requests at most 8/s: the client spaced them at least 1/8 s apart.
    assert elapsed >= (len(api.requests) - 1) / 8


def test_5xx_and_timeouts_are_retried(tmp_path: Path) -> None:
    # Page 2 answers once after 8 s, past the 2 s timeout. A busy machine may time out a
    # normal answer too: that is retried like any other, so counts are lower bounds.
    api = _api(250, fail_pages={1: [500, 503], 3: [502]}, slow_pages={2: 8.0})
    with serve(api) as base:
        table, dead = check_source("http", _config(base, "offset", timeout_seconds=2, retry={
            **FAST_RETRY, "attempts": 10}), base_dir=tmp_path)
    assert sorted(table.column("id").to_pylist()) == list(range(1, 251))
    assert dead.num_rows == 0
    offsets = [int(q.get("offset", 0)) for _, _, q, _ in api.requests]
    assert offsets.count(0) >= 3 and offsets.count(100) >= 2 and offsets.count(200) >= 2


def test_server_gone_mid_run_fails_clearly_as_retriable(tmp_path: Path) -> None:
    api = _api(250, stop_after_requests=2, auth="api_key_query")
    with serve(api) as base:
        auth = {"type": "api_key", "name": "api_key", "in": "query", "value": "k3y-value"}
        with pytest.raises(ConnectorError) as info:
            check_source("http", _config(base, "page", auth=auth, pagination={
                "style": "page", "size_param": "per_page", "size": 50}), base_dir=tmp_path)
    text = str(info.value)
    assert "reading a page (page 3)" in text and "failed after 4 tries" in text, text
    assert info.value.retriable
    assert "k3y-value" not in text  # the key in the query string is scrubbed


def test_non_json_page_and_schema_breaks_are_dead_letters_with_url_and_page(
        tmp_path: Path) -> None:
    api = _api(300, not_json_pages={2})
    api.rows[250]["amount"] = "lots"  # page 3, record 50
    api.rows[260]["id"] = "x"  # page 3, record 60
    with serve(api) as base:
        table, dead = check_source("http", _config(base, "page", schema={
            "id": "int", "amount": "decimal(10,2)", "email": "string"}), base_dir=tmp_path)
    assert table.num_rows == 300 - 100 - 2
    rows = dead.to_pylist()
    assert len(rows) == 3
    page2 = [r for r in rows if "(page 2)" in r["source"]]
    assert len(page2) == 1 and "not JSON (text/html)" in page2[0]["reason"]
    assert "page=2" in page2[0]["source"] and "Bad gateway" in page2[0]["record"]
    broken = sorted((r["source"].rsplit(" ", 1)[-1], r["column"]) for r in rows
                    if "(page 3)" in r["source"])
    assert broken == [("50", "amount"), ("60", "id")]


def test_non_json_page_in_cursor_style_fails_after_dead_lettering(tmp_path: Path) -> None:
    with serve(_api(250, not_json_pages={2})) as base, \
            pytest.raises(ConnectorError, match="the next page is unknown"):
        check_source("http", _config(base, "cursor"), base_dir=tmp_path)


def test_zero_records_is_normal(tmp_path: Path) -> None:
    with serve(_api(0)) as base:
        table, dead = check_source("http", _config(base, "page", schema={"id": "int"}),
                                   base_dir=tmp_path)
    assert table.num_rows == 0 and table.column_names == ["id"] and dead.num_rows == 0


# --- incremental runs through `dteg run` ------------------------------------------------------


def _users(workdir: Path) -> list[tuple[int, int]]:
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT count(*), count(DISTINCT id) FROM api_users").fetchall()
    finally:
        con.close()


def _later(api: RestApi, first: int, n: int) -> str:
    """Add ``n`` records updated now. A run's upper bound is the clock (to the second) when it
    starts: after 1.1 s, "now" is past the last run's bound whatever the second it fell in."""
    time.sleep(1.1)
    stamp = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    for i in range(first, first + n):
        record = make_record(i)
        record["updated_at"] = stamp.isoformat().replace("+00:00", "Z")
        api.rows.append(record)
    return str(record["updated_at"])


def test_example_incremental_reads_only_what_changed(workdir, run_pipeline, monkeypatch
                                                     ) -> None:
    api = _api(120, auth="bearer")
    with serve(api) as base:
        monkeypatch.setenv("DTEG_REST_URL", base)
        monkeypatch.setenv("DTEG_REST_TOKEN", "s3cret-token")
        code, report, out = run_pipeline(workdir / "rest_incremental.yaml")
        assert code == 0, out
        assert report is not None and report["read"] == 120 and report["reconciles"]
        assert not any("updated_since" in q for _, _, q, _ in api.requests)
        assert "s3cret-token" not in out
        api.requests.clear()
        stamp = _later(api, 121, 7)
        code, report, out = run_pipeline(workdir / "rest_incremental.yaml")
        assert code == 0, out
        assert report is not None and report["read"] == 7
        asked = {q.get("updated_since") for _, _, q, _ in api.requests}
        assert len(asked) == 1 and next(iter(asked)) < stamp, asked  # the last run's bound
        code, report, out = run_pipeline(workdir / "rest_incremental.yaml")
        assert code == 0 and report is not None and report["read"] == 0, out
    assert _users(workdir) == [(127, 127)]
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT address_city, tags FROM api_users WHERE id = 3").fetchall() == [
        ("city3", '["t0"]')]
    con.close()


def _run_cli(path: Path, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "dteg.cli", "run", str(path)], env=env,
                          text=True, capture_output=True, timeout=300)


def test_kill_after_the_load_and_before_the_cursor_is_saved_loses_nothing(workdir) -> None:
    api = _api(80, auth="bearer")
    with serve(api) as base:
        env = {"DTEG_REST_URL": base, "DTEG_REST_TOKEN": "s3cret-token"}
        path = workdir / "rest_incremental.yaml"
        killed = _run_cli(path, {**env, "DTEG_FAULT": "kill_before_state_commit"})
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert _users(workdir) == [(80, 80)]  # the append committed before the kill
        _later(api, 81, 5)
        again = _run_cli(path, env)
        assert again.returncode == 0, again.stderr
        assert "was killed after its loads committed" in again.stderr
    assert _users(workdir) == [(85, 85)]  # nothing twice, nothing lost


def test_api_down_fails_the_run_and_keeps_the_cursor(workdir, run_pipeline, monkeypatch
                                                     ) -> None:
    api = _api(60, auth="bearer")
    with serve(api) as base:
        monkeypatch.setenv("DTEG_REST_URL", base)
        monkeypatch.setenv("DTEG_REST_TOKEN", "s3cret-token")
        assert run_pipeline(workdir / "rest_incremental.yaml")[0] == 0
        _later(api, 61, 4)
        api.fail_pages = {1: [500] * 20}
        text = (workdir / "rest_incremental.yaml").read_text()
        (workdir / "rest_incremental.yaml").write_text(text.replace(
            "max_requests_per_second: 50",
            "max_requests_per_second: 50\n          retry: {attempts: 3, initial_seconds: 0.05}"))
        code, _, out = run_pipeline(workdir / "rest_incremental.yaml")
        assert code != 0
        assert "failed after 3 tries" in out and "HTTP 500" in out, out
        assert "Traceback" not in out
        api.fail_pages = {}
        code, report, out = run_pipeline(workdir / "rest_incremental.yaml")
        assert code == 0 and report is not None and report["read"] == 4, out
    assert _users(workdir) == [(64, 64)]
