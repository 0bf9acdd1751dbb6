"""Credentials for the REST source: what each auth style adds to a request, and the OAuth2
client-credentials token (fetched lazily, refreshed before it expires or after a 401)."""

from __future__ import annotations

import base64
import time
from typing import Any

from dteg.connectors.http.config import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    OAuth2ClientCredentials,
)
from dteg.errors import ConnectorError


class Credentials:
    """Adds ``auth`` to requests. Holds no secret in its repr."""

    def __init__(self, auth: Auth | None, step: str) -> None:
        self.auth = auth
        self.step = step
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"Credentials({type(self.auth).__name__})"

    @property
    def refreshable(self) -> bool:
        return isinstance(self.auth, OAuth2ClientCredentials)

    def invalidate(self) -> None:
        """The API refused the token: the next request fetches a new one."""
        self._token = None

    def apply(self, session: Any, headers: dict[str, str], params: dict[str, Any],
              timeout: float) -> None:
        auth = self.auth
        if isinstance(auth, BearerAuth):
            headers["Authorization"] = f"Bearer {auth.token.get_secret_value()}"
        elif isinstance(auth, BasicAuth):
            raw = f"{auth.username}:{auth.password.get_secret_value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif isinstance(auth, ApiKeyAuth):
            if auth.in_ == "header":
                headers[auth.name] = auth.value.get_secret_value()
            else:
                params[auth.name] = auth.value.get_secret_value()
        elif isinstance(auth, OAuth2ClientCredentials):
            headers["Authorization"] = f"Bearer {self._oauth_token(session, auth, timeout)}"

    def _oauth_token(self, session: Any, auth: OAuth2ClientCredentials, timeout: float) -> str:
        if self._token and time.monotonic() < self._expires_at - auth.refresh_margin_seconds:
            return self._token
        form = {"grant_type": "client_credentials", "client_id": auth.client_id,
                "client_secret": auth.client_secret.get_secret_value()}
        if auth.scope:
            form["scope"] = auth.scope
        response = session.post(auth.token_url, data=form, timeout=timeout)
        if response.status_code >= 500 or response.status_code == 429:
            response.raise_for_status()  # transient: the caller retries
        if response.status_code != 200:
            raise ConnectorError(
                f"the OAuth2 token endpoint {auth.token_url} refused client `{auth.client_id}` "
                f"(HTTP {response.status_code}: {_error_text(response)})", step=self.step,
                hint="Check `auth.client_id`, `auth.client_secret` and `auth.scope`.")
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise ConnectorError(
                f"the OAuth2 token endpoint {auth.token_url} answered without an "
                "`access_token`", step=self.step,
                hint="Check that `auth.token_url` is the token endpoint.") from None
        self._token = token
        self._expires_at = time.monotonic() + float(body.get("expires_in") or 3600)
        return token


def _error_text(response: Any) -> str:
    """A short, secret-free description of an error answer (its OAuth2 `error` field)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "error"
    if isinstance(body, dict):
        return str(body.get("error_description") or body.get("error") or response.reason)
    return str(response.reason)
