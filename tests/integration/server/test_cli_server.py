"""The command line against a real `dteg server` with access control: `dteg login` saves a
token only the user can read, `dteg run --server` runs and follows a run, `dteg runs --server`
lists, `dteg tokens` and `dteg users` manage access, `dteg audit export|verify` checks the
hash chain (and names a changed byte), and a signed-out CLI says to sign in."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.orchestrator.server_process import DTEG, ServerProcess, wait_for
from tests.integration.orchestrator.test_alert_delivery import free_port
from tests.server_api import write_folder

pytestmark = pytest.mark.slow
PASSWORD = "the admin's long password"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    tmp = tmp_path_factory.mktemp("cli")
    folder = write_folder(tmp / "pipelines")
    port = free_port()
    store = tmp / "o.sqlite"
    process = ServerProcess(folder, tmp / "server.log", "--port", str(port), "--store",
                            f"sqlite:///{store}",
                            env={"DTEG_ADMIN_PASSWORD": PASSWORD}).start()
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(base), "the server", timeout=120, log=process.log)
    yield base, folder, tmp
    process.stop()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def dteg(tmp: Path, *args: str, stdin: str | None = None, **env: str
         ) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "config"), **env}
    if "DTEG_TOKEN" not in env:
        environ.pop("DTEG_TOKEN", None)
    return subprocess.run([DTEG, *args], input=stdin, capture_output=True, text=True,
                          env=environ, timeout=600)


def test_login_run_list_tokens_users_audit_logout(served: tuple[str, Path, Path]) -> None:
    base, folder, tmp = served
    out = dteg(tmp, "runs", "list", "--server", base)
    assert out.returncode != 0 and "dteg login" in out.stderr and "Traceback" not in out.stderr

    wrong = dteg(tmp, "login", "--server", base, "--user", "admin", "--password-stdin",
                 stdin="nope\n")
    assert wrong.returncode != 0 and "wrong user name or password" in wrong.stderr

    signed = dteg(tmp, "login", "--server", base, "--user", "admin", "--password-stdin",
                  stdin=PASSWORD + "\n")
    assert signed.returncode == 0, signed.stderr
    saved = tmp / "config" / "dteg" / "credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert PASSWORD not in saved.read_text()
    assert "admin" in dteg(tmp, "whoami", "--server", base).stdout

    ran = dteg(tmp, "run", str(folder / "customers.yaml"), "--server", base)
    assert ran.returncode == 0, ran.stderr
    assert "succeeded: read 4, loaded 2, dead-lettered 2" in ran.stdout
    assert "attempt 1 of" in ran.stdout  # the log, followed live

    failed = dteg(tmp, "run", str(folder / "fails.yaml"), "--server", base)
    assert failed.returncode == 1
    assert "fails.yaml:6" in failed.stderr and "Traceback" not in failed.stderr

    listed = dteg(tmp, "runs", "list", "--server", base)
    assert listed.returncode == 0 and "customers" in listed.stdout and "failed" in listed.stdout

    made = dteg(tmp, "tokens", "create", "ci", "--role", "runner:customers", "--server", base)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("dteg_") and "shown once" in made.stderr
    as_ci = dteg(tmp, "whoami", "--server", base, DTEG_TOKEN=token)
    assert "token:ci" in as_ci.stdout and "runner on customers" in as_ci.stdout
    refused = dteg(tmp, "run", str(folder / "downstream.yaml"), "--server", base,
                   DTEG_TOKEN=token)
    assert refused.returncode != 0 and "not allowed" in refused.stderr

    created = dteg(tmp, "users", "create", "bob", "--role", "viewer", "--server", base,
                   "--password-stdin", stdin="bob's long password\n")
    assert created.returncode == 0, created.stderr
    assert "viewer:*" in dteg(tmp, "users", "list", "--server", base).stdout

    export = tmp / "audit.jsonl"
    assert dteg(tmp, "audit", "export", "-o", str(export), "--server", base).returncode == 0
    assert dteg(tmp, "audit", "verify", "--file", str(export)).returncode == 0
    assert dteg(tmp, "audit", "verify", "--server", base).returncode == 0
    lines = export.read_text().splitlines()
    entry = json.loads(lines[2])
    lines[2] = lines[2].replace(entry["actor"], entry["actor"][:-1] + "X", 1)
    export.write_text("\n".join(lines) + "\n")
    tampered = dteg(tmp, "audit", "verify", "--file", str(export))
    assert tampered.returncode != 0
    assert f"entry {entry['seq']}" in tampered.stderr and "altered" in tampered.stderr

    assert dteg(tmp, "logout", "--server", base).returncode == 0
    again = dteg(tmp, "runs", "list", "--server", base)
    assert again.returncode != 0 and "dteg login" in again.stderr


def test_audit_verify_reads_the_servers_database(served: tuple[str, Path, Path]) -> None:
    _base, _folder, tmp = served
    checked = dteg(tmp, "audit", "verify", "--store", f"sqlite:///{tmp / 'o.sqlite'}")
    assert checked.returncode == 0, checked.stderr
    assert "hash chain is intact" in checked.stdout
