"""Single sign-on in Debian's chromium: a real ``dteg server`` (access control on, SSO
through the real OpenID provider of ``scripts/services/oidc``, serving the built UI), the
flow started at /api/v1/auth/oidc/login, the provider's form filled as ada, back on the UI at
``/``, and the page's own /api/v1/auth/me saying ada, editor. A screenshot of every step
lands in DTEG_TEST_ARTIFACTS (default .test-artifacts/browser/sso-*.png)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import EXAMPLES, REPO, RUNNER, UI, WAIT_S, WEB
from tests.integration.oidc_service import PASSWORDS, oidc_provider, sso_server  # noqa: F401


@pytest.fixture(scope="module")
def sso_base(tmp_path_factory: pytest.TempPathFactory, node: str, artifacts: Path,
             oidc_provider: dict[str, str]) -> Iterator[str]:  # noqa: F811
    root = tmp_path_factory.mktemp("browser-sso")
    folder = root / "pipelines"
    folder.mkdir()
    shutil.copytree(REPO / "pipelines" / "data", folder / "data")
    for name in EXAMPLES[1:]:  # no dbt: nothing runs here
        shutil.copy(REPO / "pipelines" / name, folder / name)
    log = artifacts / "sso-server.log"
    log.unlink(missing_ok=True)
    with sso_server(folder, root, oidc_provider, log, env={
            "DTEG_UI_DIR": str(UI), "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}) as (_p, base):
        yield base


def scenario(node: str, chromium: str, artifacts: Path, base: str, name: str,
             **args: Any) -> dict[str, Any]:
    payload = {"base": base, "web": str(WEB), "chromium": chromium,
               "artifacts": str(artifacts), "timeout_ms": int(WAIT_S * 1000), **args}
    done = subprocess.run([node, str(RUNNER), name, json.dumps(payload)], capture_output=True,
                          text=True, timeout=WAIT_S * 3, cwd=WEB)
    lines = done.stdout.strip().splitlines()
    try:
        out: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise AssertionError(f"scenario {name} printed no result (exit {done.returncode}):\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}") from None
    assert out["ok"], (f"scenario {name} failed at {out.get('url')}:\n{out['error']}\n"
                       f"page errors: {out['pageErrors']}\n{out.get('html', '')[:2000]}")
    result: dict[str, Any] = out["result"]
    return result


def test_ada_signs_in_through_the_provider_and_lands_on_the_ui(
        sso_base: str, node: str, chromium: str, artifacts: Path,
        oidc_provider: dict[str, str]) -> None:  # noqa: F811
    result = scenario(node, chromium, artifacts, sso_base, "sso_login", user="ada",
                      password=PASSWORDS["ada"])
    assert result["provider"] == oidc_provider["DTEG_TEST_OIDC_ISSUER"]
    assert result["landed"] == f"{sso_base}/"
    assert any(u.startswith(f"{result['provider']}/interaction/") for u in result["seen"])
    me = result["me"]
    assert me["status"] == 200, me
    assert me["body"]["name"] == "ada" and me["body"]["groups"] == ["data-eng"]
    assert me["body"]["bindings"] == [{"role": "editor", "scope": "*"}]
    for step in ("sso-1-provider-login", "sso-2-form-filled", "sso-3-back-on-the-ui"):
        assert (artifacts / f"{step}.png").stat().st_size > 0
