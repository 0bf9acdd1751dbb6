"""A small Bulk API 2.0 client over ``requests`` (imported when first used): OAuth2 login
(client credentials or JWT bearer), JSON and CSV calls with retries on transient failures, a
new token after a 401, and job polling with backoff. Messages never show a secret.

Without ``auth:`` in the config, client credentials come from the environment
(``DTEG_SALESFORCE_CLIENT_ID``, ``DTEG_SALESFORCE_CLIENT_SECRET``; ``DTEG_SALESFORCE_LOGIN_URL``
replaces the default login URL), so the seed's two-key example runs unchanged.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dteg.connectors import retry
from dteg.connectors.salesforce.config import ClientCredentials, ConnectionConfig, JwtBearer
from dteg.errors import ConnectorError

ENV_ID, ENV_SECRET, ENV_LOGIN = ("DTEG_SALESFORCE_CLIENT_ID", "DTEG_SALESFORCE_CLIENT_SECRET",
                                 "DTEG_SALESFORCE_LOGIN_URL")
FINAL_STATES = ("JobComplete", "Failed", "Aborted")


class _Transient(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status_code = status


@dataclass
class Session:
    instance_url: str
    token: str


class BulkClient:
    def __init__(self, config: ConnectionConfig, step: str, base_dir: Path) -> None:
        self.config = config
        self.step = step
        self.base_dir = base_dir
        self._http: Any = None
        self._session: Session | None = None
        self._secrets = [s for s in config.secrets() if s]
        env_secret = os.environ.get(ENV_SECRET)
        if config.auth is None and env_secret:
            self._secrets.append(env_secret)

    # --- plumbing ------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def login_url(self) -> str:
        default = type(self.config).model_fields["login_url"].default
        if self.config.login_url == default and os.environ.get(ENV_LOGIN):
            return os.environ[ENV_LOGIN].rstrip("/")
        return self.config.login_url.rstrip("/")

    def http(self) -> Any:
        if self._http is None:
            import requests

            self._http = requests.Session()
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def base(self) -> str:
        session = self.session()
        return f"{session.instance_url}/services/data/{self.config.api_version}"

    # --- login ---------------------------------------------------------------------------

    def session(self) -> Session:
        if self._session is None:
            self._session = self._retried(self._login, "logging in to Salesforce")
        return self._session

    def _auth(self) -> ClientCredentials | JwtBearer:
        if self.config.auth is not None:
            return self.config.auth
        client_id, secret = os.environ.get(ENV_ID), os.environ.get(ENV_SECRET)
        if client_id and secret:
            from pydantic import SecretStr

            return ClientCredentials(type="client_credentials", client_id=client_id,
                                     client_secret=SecretStr(secret))
        raise ConnectorError(
            "no Salesforce credentials: the step has no `auth:` and the environment has no "
            f"{ENV_ID} / {ENV_SECRET}", step=self.step,
            hint="Add `auth: {type: jwt_bearer, client_id: …, username: …, private_key_file: "
            "…}` or `{type: client_credentials, …}` to the step, or export "
            f"{ENV_ID} and {ENV_SECRET}.")

    def _login(self) -> Session:
        auth = self._auth()
        url = f"{self.login_url}/services/oauth2/token"
        if isinstance(auth, ClientCredentials):
            form = {"grant_type": "client_credentials", "client_id": auth.client_id,
                    "client_secret": auth.client_secret.get_secret_value()}
            who = f"client `{auth.client_id}`"
        else:
            form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": self._assertion(auth)}
            who = f"user `{auth.username}` (JWT bearer, client `{auth.client_id}`)"
        answer = self.http().post(url, data=form, timeout=self.config.timeout_seconds)
        if answer.status_code >= 500 or answer.status_code == 429:
            raise _Transient(f"HTTP {answer.status_code} from {url}", answer.status_code)
        if answer.status_code != 200:
            raise ConnectorError(
                f"Salesforce refused the login of {who} at {url} (HTTP {answer.status_code}: "
                f"{self.scrub(_error(answer))})", step=self.step,
                hint="Check `auth:` (client id and secret, or the user, consumer key and "
                "private key of the connected app) and `login_url:`.")
        body = answer.json()
        return Session(str(body["instance_url"]).rstrip("/"), str(body["access_token"]))

    def _assertion(self, auth: JwtBearer) -> str:
        import jwt

        if auth.private_key is not None:
            key = auth.private_key.get_secret_value()
        else:
            assert auth.private_key_file is not None
            path = Path(auth.private_key_file).expanduser()
            path = path if path.is_absolute() else self.base_dir / path
            try:
                key = path.read_text()
            except OSError as exc:
                raise ConnectorError(f"cannot read `auth.private_key_file` {path}: "
                                     f"{exc.strerror}", step=self.step,
                                     hint="Point it at the connected app's PEM key.") from None
        claims = {"iss": auth.client_id, "sub": auth.username,
                  "aud": auth.audience or self.login_url, "exp": int(time.time()) + 180}
        try:
            return str(jwt.encode(claims, key, algorithm="RS256"))
        except (ValueError, TypeError) as exc:
            raise ConnectorError(f"the JWT bearer private key is not a usable RSA key: "
                                 f"{type(exc).__name__}", step=self.step,
                                 hint="Give the PEM private key of the connected app.") from None

    # --- calls ---------------------------------------------------------------------------

    def call(self, method: str, path: str, what: str, *, json: Any = None,
             data: bytes | None = None, content_type: str | None = None,
             params: dict[str, Any] | None = None) -> Any:
        """One API call (path below /services/data/vXX.X), retried while transient; returns
        the ``requests`` response of a 2xx answer."""

        def once(refresh: bool = True) -> Any:
            url = self.base() + path
            headers = {"Authorization": f"Bearer {self.session().token}",
                       "Accept": "application/json"}
            if content_type:
                headers["Content-Type"] = content_type
            answer = self.http().request(method, url, json=json, data=data, params=params,
                                         headers=headers, timeout=self.config.timeout_seconds)
            if answer.status_code == 401 and refresh:
                self._session = None  # expired session: log in again, once
                return once(refresh=False)
            if answer.status_code >= 500 or answer.status_code == 429:
                raise _Transient(f"HTTP {answer.status_code} from {url}", answer.status_code)
            if answer.status_code >= 400:
                raise ConnectorError(
                    f"Salesforce refused {what} (HTTP {answer.status_code}: "
                    f"{self.scrub(_error(answer))})", step=self.step,
                    hint="Check `object_name:`, `operation:`, `external_id_field:` and the "
                    "user's permissions on the object.")
            return answer

        return self._retried(once, what)

    def _retried(self, fn: Any, what: str) -> Any:
        def attempt() -> Any:
            try:
                return fn()
            except (ConnectorError, _Transient):
                raise
            except Exception as exc:
                first = str(exc).splitlines()[0] if str(exc) else ""
                text = self.scrub(f"{type(exc).__name__}: {first}")
                if retry.is_transient(exc) or any("Timeout" in c.__name__
                                                  for c in type(exc).__mro__):
                    raise _Transient(text, 0) from None
                raise ConnectorError(f"{what} failed: {text}", step=self.step,
                                     hint="Check `login_url:` and the network.") from None

        return retry.call(attempt, what=what, settings=self.config.retry, step=self.step,
                          transient=lambda e: isinstance(e, _Transient) or retry.is_transient(e))

    def wait(self, kind: str, job_id: str) -> dict[str, Any]:
        """Poll a job until it is final (backoff from ``poll_initial_seconds`` doubling to
        ``poll_max_seconds``); returns its last description."""
        delay = self.config.poll_initial_seconds
        deadline = time.monotonic() + self.config.job_timeout_seconds
        while True:
            info: dict[str, Any] = self.call("GET", f"/jobs/{kind}/{job_id}",
                                             f"polling {kind} job {job_id}").json()
            if info.get("state") in FINAL_STATES:
                return info
            if time.monotonic() > deadline:
                raise ConnectorError(
                    f"Salesforce {kind} job {job_id} is still `{info.get('state')}` after "
                    f"{self.config.job_timeout_seconds:.0f} s", step=self.step, retriable=True,
                    hint="Raise `job_timeout_seconds:`, or look at the job in Setup → Bulk "
                    "Data Load Jobs.")
            time.sleep(delay)
            delay = min(delay * 2, self.config.poll_max_seconds)


def _error(answer: Any) -> str:
    """Salesforce's error text: ``[{"errorCode", "message"}]`` or OAuth's ``error``."""
    try:
        body = answer.json()
    except ValueError:
        return " ".join(answer.text.split())[:200] or str(answer.reason)
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in body[:3])
    if isinstance(body, dict):
        return str(body.get("error_description") or body.get("error") or body)
    return str(body)[:200]
