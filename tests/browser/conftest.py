"""A real ``dteg server`` over a few example pipelines, and Debian's chromium driven by
playwright-core (node, from web/node_modules) against the built UI it serves.

Needs three things built first; without them the tests skip, and fail under ``CI=true``,
naming the command that fixes it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.orchestrator.server_process import ServerProcess, wait_for

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
UI = REPO / "dteg" / "server" / "ui"
RUNNER = Path(__file__).with_name("run.mjs")
# Pipelines that need no external service (quickstart runs dbt: ~5 s, the slowest).
EXAMPLES = ["quickstart.yaml", "csv_to_parquet.yaml", "jsonl_events.yaml", "fan_out.yaml"]
# Compiles, then fails at run time in its validate step (a rule with on_failure: fail).
FAILING = """\
pipeline:
  name: breaks_at_runtime
  steps:
    - extract:
        type: csv
        config: {path: data/customers.csv}
    - validate:
        rules:
          - {type: range_check, column: id, max: 3, on_failure: fail}
    - load:
        type: parquet
        config: {path: out/never.parquet}
"""
WAIT_S = 240.0  # the machine may be busy: every wait is for a condition, generously


def _missing(what: str, fix: str) -> None:
    message = f"{what} — run `{fix}` first"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        _missing("no `chromium` on PATH", "scripts/tools/chromium")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        _missing("no `node` on PATH (Node.js >= 20)", "apt-get install -y nodejs npm")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        _missing("web/node_modules has no playwright-core", "cd web && npm ci")
    if not (UI / "index.html").is_file():
        _missing("the web UI is not built (no dteg/server/ui/index.html)", "scripts/build_ui")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("DTEG_TEST_ARTIFACTS") or REPO / ".test-artifacts" / "browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    """The server's /api/v1 over plain HTTP (what the tests compare the pages with)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}/api/v1{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def ready(self) -> bool:
        try:
            return bool(self.get("/ready").get("ready"))
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def trigger(self, pipeline: str) -> str:
        return str(self.call("POST", f"/pipelines/{pipeline}/runs", {})["id"])

    def finished(self, run_id: str) -> dict[str, Any] | None:
        run: dict[str, Any] = self.get(f"/runs/{run_id}")
        return run if run["status"] in ("succeeded", "failed", "cancelled") else None


class Server:
    def __init__(self, process: ServerProcess, base: str, folder: Path) -> None:
        self.process, self.base, self.folder = process, base, folder
        self.api = Api(base)

    def wait_finished(self, run_id: str) -> dict[str, Any]:
        return wait_for(lambda: self.api.finished(run_id), f"run {run_id} to finish",
                        timeout=WAIT_S, log=self.process.log)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, node: str, artifacts: Path
           ) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("browser")
    folder = root / "pipelines"
    folder.mkdir()
    for name in ("data", "dbt"):
        shutil.copytree(REPO / "pipelines" / name, folder / name)
    for name in EXAMPLES:
        shutil.copy(REPO / "pipelines" / name, folder / name)
    (folder / "breaks_at_runtime.yaml").write_text(FAILING)
    port = _free_port()
    # One worker: a second run waits in the queue while the first runs, so a page opened on
    # it sees every state (queued → running → succeeded).
    process = ServerProcess(
        folder, artifacts / "server.log", "--host", "127.0.0.1", "--port", str(port),
        "--store", f"sqlite:///{root / 'o.sqlite'}", "--workers", "1", "--no-auth",
        env={"DTEG_UI_DIR": str(UI), "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)})
    (artifacts / "server.log").unlink(missing_ok=True)
    process.start()
    server = Server(process, f"http://127.0.0.1:{port}", folder)
    try:
        wait_for(lambda: server.api.ready() or not process.alive(), "GET /api/v1/ready",
                 timeout=WAIT_S, log=process.log)
        assert process.alive(), f"dteg server exited:\n{process.log()[-4000:]}"
        assert server.api.get("/ready")["ui"], "the server does not serve the built UI"
        yield server
    finally:
        process.stop()


@pytest.fixture(scope="session")
def browser(server: Server, chromium: str, node: str, artifacts: Path) -> Any:
    """``browser(scenario, **args)``: runs tests/browser/scenarios/<scenario>.mjs, returns its
    result; fails with the scenario's error, the page's errors and the server's log."""

    def run(scenario: str, **args: Any) -> dict[str, Any]:
        payload = {"base": server.base, "web": str(WEB), "chromium": chromium,
                   "artifacts": str(artifacts), "timeout_ms": int(WAIT_S * 1000), **args}
        done = subprocess.run([node, str(RUNNER), scenario, json.dumps(payload)],
                              capture_output=True, text=True, timeout=WAIT_S * 3, cwd=WEB)
        lines = done.stdout.strip().splitlines()
        try:
            out = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise AssertionError(f"scenario {scenario} printed no result (exit "
                                 f"{done.returncode}):\n{done.stdout[-3000:]}\n"
                                 f"{done.stderr[-3000:]}") from None
        if not out["ok"]:
            raise AssertionError(
                f"scenario {scenario} failed at {out.get('url')}:\n{out['error']}\n"
                f"page errors: {out['pageErrors']}\nconsole errors: {out['consoleErrors']}\n"
                f"--- server log ---\n{server.process.log()[-3000:]}")
        assert not out["pageErrors"], f"uncaught errors in the page: {out['pageErrors']}"
        result: dict[str, Any] = out["result"]
        return result

    return run
