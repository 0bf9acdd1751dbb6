"""A real ``dteg server`` over a few example pipelines, with access control on, and Debian's
chromium driven by playwright-core (node, from web/node_modules) against the built UI it
serves. Every scenario signs in through the login page first (as ``admin`` unless it says
otherwise); the Python side compares with the API through a bearer token.

Needs three things built first; without them the tests skip, and fail under ``CI=true``,
naming the command that fixes it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser.run_gate import RunGate
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
# The first admin (DTEG_ADMIN_PASSWORD at the first start) and the users the tests add.
ADMIN = ("admin", "browser-tests-admin-password-2026")
USERS = {"viewer": ("vera_viewer", "viewer-password-for-browser-tests"),
         "runner": ("rudi_runner", "runner-password-for-browser-tests")}


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
    """The server's /api/v1 over plain HTTP (what the tests compare the pages with), as one
    user: a bearer access token from the OAuth2 password grant, fetched again when it
    expires (15 minutes)."""

    def __init__(self, base: str, user: tuple[str, str] = ADMIN) -> None:
        self.base, self.user = base, user
        self._token: str | None = None

    def _sign_in(self) -> str:
        form = urllib.parse.urlencode({"grant_type": "password", "username": self.user[0],
                                       "password": self.user[1]}).encode()
        request = urllib.request.Request(f"{self.base}/api/v1/auth/token", data=form,
                                         method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.loads(response.read())["access_token"])

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._sign_in()
            request = urllib.request.Request(
                f"{self.base}/api/v1{path}", data=data, method=method,
                headers={"Content-Type": "application/json",
                         "Authorization": f"Bearer {self._token}"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    text = response.read()
                    return json.loads(text) if text else None
            except urllib.error.HTTPError as err:
                if err.code != 401 or attempt == 2:
                    raise
                self._token = None  # expired: sign in again, once
        raise AssertionError("unreachable")

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

    def ensure_user(self, name: str, password: str, role: str, scope: str = "*") -> None:
        """A local user with one role (created once per session; a second call is a no-op)."""
        try:
            self.call("POST", "/users", {"name": name, "password": password,
                                         "bindings": [{"role": role, "scope": scope}]})
        except urllib.error.HTTPError as err:
            if err.code != 409:
                raise


class Server:
    def __init__(self, process: ServerProcess, base: str, folder: Path, gate: RunGate) -> None:
        self.process, self.base, self.folder = process, base, folder
        self.api = Api(base)
        self.gate = gate  # what `held_run` reads: its runs go on when the test releases them

    def user(self, role: str) -> tuple[str, str]:
        """The credentials of the session's user with ``role`` (viewer, runner), made once."""
        name, password = USERS[role]
        self.api.ensure_user(name, password, role)
        return name, password

    def wait_finished(self, run_id: str) -> dict[str, Any]:
        return wait_for(lambda: self.api.finished(run_id), f"run {run_id} to finish",
                        timeout=WAIT_S, log=self.process.log)


@contextmanager
def running_server(root: Path, artifacts: Path, log_name: str = "server.log",
                   env: dict[str, str] | None = None) -> Iterator[Server]:
    """``dteg server`` with access control on, over the examples copied into ``root``."""
    folder = root / "pipelines"
    folder.mkdir()
    for name in ("data", "dbt"):
        shutil.copytree(REPO / "pipelines" / name, folder / name)
    for name in EXAMPLES:
        shutil.copy(REPO / "pipelines" / name, folder / name)
    (folder / "breaks_at_runtime.yaml").write_text(FAILING)
    gate = RunGate()
    (folder / "held_run.yaml").write_text(gate.pipeline())
    port = _free_port()
    # One worker: a second run waits in the queue while the first runs, so a page opened on
    # it sees every state (queued → running → succeeded).
    process = ServerProcess(
        folder, artifacts / log_name, "--host", "127.0.0.1", "--port", str(port),
        "--store", f"sqlite:///{root / 'o.sqlite'}", "--workers", "1",
        env={"DTEG_UI_DIR": str(UI), "DTEG_AUTH": "on", "DTEG_ADMIN_PASSWORD": ADMIN[1],
             "PYTHONPATH": os.pathsep.join(
                 p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p), **(env or {})})
    (artifacts / log_name).unlink(missing_ok=True)
    process.start()
    server = Server(process, f"http://127.0.0.1:{port}", folder, gate)
    try:
        wait_for(lambda: server.api.ready() or not process.alive(), "GET /api/v1/ready",
                 timeout=WAIT_S, log=process.log)
        assert process.alive(), f"dteg server exited:\n{process.log()[-4000:]}"
        assert server.api.get("/ready")["ui"], "the server does not serve the built UI"
        yield server
    finally:
        gate.close()
        process.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, node: str, artifacts: Path
           ) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("browser"), artifacts) as started:
        yield started


def scenario_runner(server: Server, chromium: str, node: str, artifacts: Path) -> Any:
    """``run(scenario, user=ADMIN, **args)``: runs tests/browser/scenarios/<scenario>.mjs
    after signing in as ``user`` through the login page (None: not signed in), returns its
    result; fails with the scenario's error, the page's errors and the server's log."""

    def run(scenario: str, user: tuple[str, str] | None = ADMIN, **args: Any
            ) -> dict[str, Any]:
        login = None if user is None else {"username": user[0], "password": user[1]}
        payload = {"base": server.base, "web": str(WEB), "chromium": chromium,
                   "artifacts": str(artifacts), "timeout_ms": int(WAIT_S * 1000),
                   "login": login, **args}
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


@pytest.fixture(scope="session")
def browser(server: Server, chromium: str, node: str, artifacts: Path) -> Any:
    """The session server's scenarios (see ``scenario_runner``)."""
    return scenario_runner(server, chromium, node, artifacts)
