"""The server's alert settings: what an alert leaves out (the Slack webhook or bot token, the
SMTP server, its login and From address), how often one alert may repeat, and the UI address
links point at.

A value written in the alert wins; these settings fill what it leaves out. ``from_env`` reads
them from the environment the server runs in (``DTEG_SLACK_WEBHOOK_URL``, ``DTEG_SMTP_HOST``
…), so the seed's two-line alerts work once those are set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr

from dteg.errors import ConfigError
from dteg.spec.alerts import SLACK_BOT_TOKEN_ENV, SLACK_WEBHOOK_ENV

SMTP_HOST_ENV = "DTEG_SMTP_HOST"
SMTP_PORT_ENV = "DTEG_SMTP_PORT"
SMTP_USER_ENV = "DTEG_SMTP_USER"
SMTP_PASSWORD_ENV = "DTEG_SMTP_PASSWORD"
SMTP_FROM_ENV = "DTEG_SMTP_FROM"
SLACK_API_BASE = "https://slack.com/api"


@dataclass(frozen=True)
class AlertSettings:
    """Server-wide alert settings. Secrets are ``SecretStr``: the repr never shows them.

    ``throttle``: the least time between two deliveries of one alert for one pipeline and
    event (later ones are recorded as throttled). ``timeout_s``: per connection to Slack, a
    webhook or an SMTP server. ``base_url``: the server's UI, for the link to a run.
    ``ca_file``: the CA certificates to trust instead of the system's, for HTTPS and SMTP TLS
    (a private CA). ``slack_api_base``: where chat.postMessage is sent (a stand-in in tests).
    """

    slack_webhook_url: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_api_base: str = SLACK_API_BASE
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    ca_file: str | None = None
    throttle: timedelta = timedelta(minutes=15)
    timeout_s: float = 10.0
    base_url: str | None = None

    def __post_init__(self) -> None:
        if self.throttle < timedelta(0):
            raise ConfigError(f"the alert throttle is {self.throttle}, which is negative: give "
                              "zero (no throttling) or a positive interval")
        if self.timeout_s <= 0:
            raise ConfigError(f"the alert timeout is {self.timeout_s}s: give a positive "
                              "number of seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        """Settings from ``DTEG_SLACK_WEBHOOK_URL``, ``DTEG_SLACK_BOT_TOKEN``,
        ``DTEG_SMTP_HOST``, ``DTEG_SMTP_PORT``, ``DTEG_SMTP_USER``, ``DTEG_SMTP_PASSWORD`` and
        ``DTEG_SMTP_FROM`` (unset or empty: not set). Change the rest with
        ``dataclasses.replace``."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            return env.get(name, "").strip() or None

        def secret(name: str) -> SecretStr | None:
            value = text(name)
            return SecretStr(value) if value else None

        return cls(
            slack_webhook_url=secret(SLACK_WEBHOOK_ENV),
            slack_bot_token=secret(SLACK_BOT_TOKEN_ENV),
            smtp_host=text(SMTP_HOST_ENV),
            smtp_port=_port(text(SMTP_PORT_ENV)),
            smtp_user=text(SMTP_USER_ENV),
            smtp_password=secret(SMTP_PASSWORD_ENV),
            smtp_from=text(SMTP_FROM_ENV),
        )

    def run_link(self, run_id: str | None) -> str | None:
        """The UI page of a run (``{base_url}/runs/{run_id}``), or None without both."""
        if not self.base_url or not run_id:
            return None
        return f"{self.base_url.rstrip('/')}/runs/{run_id}"


def _port(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigError(f"{SMTP_PORT_ENV} is {value!r}, which is not a port number",
                          hint=f"Set {SMTP_PORT_ENV} to the SMTP server's port (587 for "
                          "STARTTLS, 465 for SSL, 25 for plain) or unset it.")
    return int(value)
