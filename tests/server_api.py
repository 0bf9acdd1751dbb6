"""A real API over a real store and a folder of pipeline files, with an in-process queue that
runs dispatched runs for real (Beam's embedded runner) — for the API tests."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fastapi.testclient import TestClient

from dteg.auth.rbac import Binding
from dteg.auth.service import AuthService
from dteg.auth.settings import AuthSettings
from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.scheduler import Dispatcher
from dteg.orchestrator.store.store import Store
from dteg.orchestrator.task import RunTask
from dteg.orchestrator.watcher import Watcher
from dteg.orchestrator.worker import execute_task
from dteg.server.app import create_app
from dteg.server.context import ServerContext

CUSTOMERS = """\
id,name,email,amount
1,Ada,ada@example.com,10.5
2,Bob,not-an-email,3
3,Cy,,7
4,Di,di@example.org,1
"""

CLEAN = """\
pipeline:
  name: customers
  schedule: "*/5 * * * *"
  security:
    data_masking: {email: hash}
  quality:
    validation_rules:
      - {type: null_check, columns: [email]}
      - {type: format_check, column: email, pattern: "^[^@]+@[^@]+$"}
  steps:
    - extract: {type: csv, config: {path: customers.csv}}
    - load: {type: csv, config: {path: out/customers.csv}}
"""

DOWNSTREAM = """\
pipeline:
  name: downstream
  steps:
    - extract: {type: csv, config: {path: out/customers.csv}}
    - load:
        type: duckdb
        config: {database: out/warehouse.duckdb, table: customers, mode: replace}
"""

FAILS = """\
pipeline:
  name: fails
  retries: {max_attempts: 1}
  steps:
    - extract: {type: csv, config: {path: customers.csv}}
    - filter: {where: "nope > 0"}
    - load: {type: csv, config: {path: out/fails.csv}}
"""


def now() -> datetime:
    return datetime.now(timezone.utc)


def write_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(CUSTOMERS)
    (folder / "customers.yaml").write_text(CLEAN)
    (folder / "downstream.yaml").write_text(DOWNSTREAM)
    (folder / "fails.yaml").write_text(FAILS)
    return folder


class Recording:
    claim_timeout_s = 60.0

    def __init__(self) -> None:
        self.tasks: list[RunTask] = []

    def free_slots(self) -> int:
        return 100

    def submit(self, task: RunTask) -> None:
        self.tasks.append(task)

    def close(self) -> None:
        pass


ADMIN_PASSWORD = "the admin's long password"


class Api:
    """The app on a TestClient, and ``drain()``: run every queued run here, for real.
    ``auth``: with access control on (the first admin's password is ADMIN_PASSWORD)."""

    def __init__(self, folder: Path, tmp: Path, auth: bool = False) -> None:
        self.folder = folder
        self.store = Store.open(f"sqlite:///{tmp / 'orchestrator.sqlite'}")
        self.catalog = Catalog(folder)
        self.auth = None
        if auth:
            self.auth = AuthService(self.store.engine,
                                    AuthSettings(admin_password=ADMIN_PASSWORD))
            self.auth.bootstrap(lambda _text: None)
        self.context = ServerContext(store=self.store, catalog=self.catalog, auth=self.auth)
        self.context.current_catalog(force=True)
        self.client = TestClient(create_app(self.context), raise_server_exceptions=False)
        self.executor = Recording()
        self.dispatcher = Dispatcher(self.store, self.catalog, self.executor)
        self.watcher = Watcher(self.store, self.catalog, None, log=lambda _t: None)

    def drain(self) -> None:
        for _ in range(50):
            self.dispatcher.dispatch(now())
            if not self.executor.tasks:
                self.watcher.step(now())
                self.dispatcher.dispatch(now())
                if not self.executor.tasks:
                    return
            execute_task(self.executor.tasks.pop(0), self.store, "worker:test")
            self.watcher.step(now())
        raise AssertionError("the queue did not drain")

    def token(self, *bindings: tuple[str, str], name: str | None = None) -> str:
        """An access token of a new user with these (role, scope) bindings."""
        assert self.auth is not None
        user = self.auth.accounts.create_user(
            name or f"user{len(self.auth.accounts.users())}", now(), "a long enough password")
        self.auth.accounts.set_bindings(f"user:{user.id}", [Binding(r, s) for r, s in bindings])
        return self.auth.issue(user).access_token

    def admin_headers(self) -> dict[str, str]:
        assert self.auth is not None
        admin = self.auth.accounts.user_by_name("admin")
        assert admin is not None
        return {"Authorization": f"Bearer {self.auth.issue(admin).access_token}"}

    def run_now(self, name: str) -> str:
        headers = self.admin_headers() if self.auth is not None else {}
        answer = self.client.post(f"/api/v1/pipelines/{name}/runs", json={}, headers=headers)
        assert answer.status_code == 201, answer.text
        run_id: str = answer.json()["id"]
        self.drain()
        return run_id

    def close(self) -> None:
        self.client.close()
        self.store.close()
