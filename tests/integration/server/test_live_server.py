"""`dteg server` as a real process: the API and /metrics on one port, a run started over
HTTP and followed live over Server-Sent Events until it ends, the UI's "not built" page, a
taken port refused in one paragraph, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dteg.server.events import parse_events
from tests.integration.orchestrator.server_process import ServerProcess, wait_for
from tests.integration.orchestrator.test_alert_delivery import free_port
from tests.server_api import write_folder

pytestmark = pytest.mark.slow

ORDER = ["queued", "dispatched", "running", "succeeded"]
ADMIN_PASSWORD = "a long admin password"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    folder = write_folder(tmp_path / "pipelines")
    empty_ui = tmp_path / "no-ui"
    empty_ui.mkdir()
    port = free_port()
    process = ServerProcess(folder, tmp_path / "server.log", "--port", str(port),
                            "--store", f"sqlite:///{tmp_path / 'o.sqlite'}",
                            env={"DTEG_UI_DIR": str(empty_ui),
                                 "DTEG_ADMIN_PASSWORD": ADMIN_PASSWORD}).start()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, "the server to answer", timeout=120, log=process.log)
    yield process, base
    process.stop()


def signed_in(base: str) -> httpx.Client:
    answer = httpx.post(f"{base}/api/v1/auth/token", data={
        "grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    return httpx.Client(base_url=base, timeout=60,
                        headers={"Authorization": f"Bearer {token}"})


def test_a_run_started_over_http_is_followed_live_to_its_end(
        server: tuple[ServerProcess, str]) -> None:
    process, base = server
    assert httpx.get(f"{base}/api/v1/runs", timeout=30).status_code == 401
    assert "DTEG_ADMIN_PASSWORD" in process.log() and ADMIN_PASSWORD not in process.log()
    api = signed_in(base)
    assert api.get("/api/v1/ready").json()["ready"]
    started = api.post("/api/v1/pipelines/customers/runs", json={})
    assert started.status_code == 201, started.text
    rid = started.json()["id"]
    with api.stream("GET", f"/api/v1/runs/{rid}/events", timeout=300) as stream:
        text = "".join(stream.iter_text())
    events = parse_events(text)
    statuses = [data["status"] for kind, data in events if kind in ("run", "end")]
    assert statuses[-1] == "succeeded", process.log()
    assert [ORDER.index(s) for s in statuses] == sorted(ORDER.index(s) for s in statuses)
    assert events[-1][0] == "end"
    streamed = [data["id"] for kind, data in events if kind == "log"]
    paged = api.get(f"/api/v1/runs/{rid}/logs").json()
    assert streamed == [line["id"] for line in paged["items"]] and streamed
    assert paged["finished"]
    run = api.get(f"/api/v1/runs/{rid}").json()
    assert run["rows_read"] == run["rows_loaded"] + run["rows_dead_lettered"]
    assert "Server-Timing" in api.get("/api/v1/runs").headers

    # The watcher counts a run it has seen end (within a pass or two of the end).
    wait_for(lambda: 'dteg_runs_total{pipeline="customers",status="succeeded"} 1.0'
             in api.get("/metrics").text, "the run in /metrics", timeout=60, log=process.log)
    assert httpx.get(f"{base}/metrics", timeout=30).status_code == 401
    assert httpx.get(f"{base}/healthz", timeout=30).text == "ok\n"
    home = httpx.get(f"{base}/", timeout=30)
    assert home.status_code == 200 and "make ui" in home.text
    docs = httpx.get(f"{base}/api/v1/openapi.json", timeout=30).json()
    committed = json.loads((Path(__file__).parents[3] / "docs" / "openapi.json").read_text())
    assert docs == committed
    audit = api.get("/api/v1/audit").json()["items"]
    assert {(e["action"], e["result"]) for e in audit} >= {
        ("runs.trigger", "succeeded"), ("auth.login", "succeeded"), ("runs.read", "denied")}


def test_a_taken_port_is_refused_in_one_paragraph(server: tuple[ServerProcess, str],
                                                  tmp_path: Path) -> None:
    _process, base = server
    port = base.rsplit(":", 1)[1]
    second = ServerProcess(tmp_path / "pipelines", tmp_path / "second.log", "--port", port,
                           "--store", f"sqlite:///{tmp_path / 'o2.sqlite'}").start()
    assert second.process is not None
    code = second.process.wait(timeout=120)
    log = second.log()
    assert code != 0
    assert f"cannot listen on 127.0.0.1:{port}" in log and "--port" in log
    assert "Traceback" not in log


def test_sigterm_stops_the_server(server: tuple[ServerProcess, str]) -> None:
    process, _base = server
    process.stop()
    assert process.process is not None and process.process.returncode == 0, process.log()
    assert "stopping" in process.log()
