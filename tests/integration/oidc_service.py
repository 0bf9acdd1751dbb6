"""The real OpenID provider for the SSO tests (``scripts/services/oidc``: npm
``oidc-provider`` on 127.0.0.1:59090), a ``dteg server`` subprocess that signs in through it,
and the code flow driven the way a browser does it (follow the redirects, fill the
provider's login form). With CI=true a provider that does not start fails the tests;
elsewhere they are skipped with the reason.

Use it with ``from tests.integration.oidc_service import oidc_provider  # noqa: F401``; the
fixture is a dict of what ``scripts/services/oidc env`` prints (``DTEG_TEST_OIDC_ISSUER``,
``DTEG_TEST_OIDC_CLIENT_ID``, ``DTEG_TEST_OIDC_CLIENT_SECRET``).
"""

from __future__ import annotations

import html
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.integration.databases import _start as start_service
from tests.integration.orchestrator.server_process import ServerProcess, wait_for
from tests.integration.service_guard import service_unavailable

# The provider's test accounts (scripts/services/oidc_provider/provider.mjs).
PASSWORDS = {"ada": "ada-password", "bob": "bob-password", "eve": "eve-password"}
GROUP_ROLES = "data-eng=editor,analysts=viewer:sales_*"
ADMIN_PASSWORD = "the admin's long password"


@pytest.fixture(scope="session")
def oidc_provider() -> dict[str, str]:
    """Starts the shared provider (a no-op when it runs) and returns its env."""
    env = start_service("oidc")
    issuer = env.get("DTEG_TEST_OIDC_ISSUER", "")
    try:
        doc = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=30).json()
    except (httpx.HTTPError, ValueError) as exc:
        service_unavailable(f"the OIDC provider at {issuer!r} does not answer discovery: {exc}")
    if doc.get("issuer") != issuer:
        service_unavailable(f"the provider on {issuer} names itself {doc.get('issuer')!r}")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sso_env(provider: dict[str, str], **extra: str) -> dict[str, str]:
    return {"DTEG_OIDC_ISSUER": provider["DTEG_TEST_OIDC_ISSUER"],
            "DTEG_OIDC_CLIENT_ID": provider["DTEG_TEST_OIDC_CLIENT_ID"],
            "DTEG_OIDC_CLIENT_SECRET": provider["DTEG_TEST_OIDC_CLIENT_SECRET"],
            "DTEG_OIDC_GROUP_ROLES": GROUP_ROLES, "DTEG_ADMIN_PASSWORD": ADMIN_PASSWORD,
            **extra}


@contextmanager
def sso_server(folder: Path, tmp: Path, provider: dict[str, str], log: Path,
               env: dict[str, str] | None = None) -> Iterator[tuple[ServerProcess, str]]:
    """``dteg server`` over ``folder`` with SSO through ``provider``, on a free port."""
    port = free_port()
    process = ServerProcess(folder, log, "--host", "127.0.0.1", "--port", str(port),
                            "--store", f"sqlite:///{tmp / 'o.sqlite'}",
                            env=sso_env(provider, **(env or {}))).start()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if not process.alive():
            raise AssertionError(f"dteg server exited:\n{process.log()[-4000:]}")
        try:
            return httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, "the server to answer", timeout=180, log=process.log)
        yield process, base
    finally:
        process.stop()


def login_form(page: httpx.Response) -> str:
    """The provider's login form's action (an absolute URL)."""
    found = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert found, f"no login form on {page.url}:\n{page.text[:2000]}"
    return urljoin(str(page.url), html.unescape(found.group(1)))


def to_callback(base: str, user: str, next_path: str = "/",
                client: httpx.Client | None = None) -> tuple[httpx.Client, str]:
    """Starts SSO at dteg, signs in at the provider as ``user``, and stops at the redirect
    back to dteg: (the client with its cookies, the callback URL, not yet visited)."""
    client = client or httpx.Client(timeout=60, follow_redirects=False)
    answer = client.get(f"{base}/api/v1/auth/oidc/login", params={"next": next_path})
    assert answer.status_code == 302, answer.text
    # dteg → the provider's /auth → its interaction page (the login form).
    page = client.get(answer.headers["location"], follow_redirects=True)
    assert page.status_code == 200, page.text[:2000]
    answer = client.post(login_form(page), data={"username": user,
                                                 "password": PASSWORDS[user]})
    while answer.status_code in (302, 303):
        target = urljoin(str(answer.url), answer.headers["location"])
        if target.startswith(f"{base}/api/v1/auth/oidc/callback"):
            return client, target
        answer = client.get(target)
    raise AssertionError(f"the provider did not send {user} back to dteg: "
                         f"{answer.status_code} {answer.text[:2000]}")


def sign_in(base: str, user: str, next_path: str = "/") -> tuple[httpx.Client, httpx.Response]:
    """The whole code flow; (the signed-in client, the callback's answer)."""
    client, callback = to_callback(base, user, next_path)
    return client, client.get(callback)
