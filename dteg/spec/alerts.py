"""``monitoring.alerts``: where the orchestrator sends word of a run, one model per channel.

Each alert says which run events it is sent for (``on:``, default ``[failure]``); the names
of the first version (``failed``, ``succeeded``, ``quality_failed``) are still accepted and
read as the new ones. A setting an alert leaves out (the Slack webhook or bot token, the SMTP
server and its login) comes from the server's settings or its environment when the alert is
sent (``dteg.orchestrator.alerts.settings``), so the seed's two-line alerts are valid as
written. ``dteg run`` says that it ignores alerts (``run_notices``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from dteg.spec.names import known_names_hint, yaml_on_key

AlertEvent = Literal["failure", "retry", "success", "recovered", "sla", "freshness",
                     "quality", "schema_drift", "retention_failed", "pii_unprotected"]
ALERT_EVENTS: tuple[str, ...] = get_args(AlertEvent)
# The names of the first version, still accepted in `on:` and read as the new ones.
EVENT_ALIASES: dict[str, AlertEvent] = {
    "failed": "failure", "succeeded": "success", "quality_failed": "quality"}
_DEFAULT_EVENTS: tuple[AlertEvent, ...] = ("failure",)
# The environment variables a Slack alert without `webhook_url` or `bot_token` is sent
# through (when the server's settings do not name them either).
SLACK_WEBHOOK_ENV = "DTEG_SLACK_WEBHOOK_URL"
SLACK_BOT_TOKEN_ENV = "DTEG_SLACK_BOT_TOKEN"
# The SMTP port whose servers expect STARTTLS, and the one that speaks TLS from the start.
SUBMISSION_PORT = 587
SMTPS_PORT = 465
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _http_url(value: str, key: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        # The value may hold a token: never show it.
        raise ValueError(f"`{key}` must be an http:// or https:// URL")
    return value


def _address(value: str) -> str:
    value = value.strip()
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not an e-mail address (name@example.com)")
    return value


EmailAddress = Annotated[str, AfterValidator(_address)]


def normalise_event(value: Any) -> Any:
    """``failed`` → ``failure`` (the first version's names); anything else unchanged."""
    return EVENT_ALIASES.get(value, value) if isinstance(value, str) else value


# Editors complete the old names too: files written for the first version stay valid.
_EVENT_SCHEMA = {"type": "string", "enum": [*ALERT_EVENTS, *EVENT_ALIASES]}
OnEvent = Annotated[AlertEvent, BeforeValidator(normalise_event), WithJsonSchema(_EVENT_SCHEMA)]


class AlertBase(BaseModel):
    """What every alert has: the events it is sent for."""

    # An alert holds tokens and passwords: pydantic's own error text must not show its input.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    on: list[OnEvent] = Field(
        default_factory=lambda: list(_DEFAULT_EVENTS), min_length=1,
        description="The run events this alert is sent for: failure, retry (a failed "
        "attempt that will be retried), success, recovered (the first success after a "
        "failure), sla (a run late or too long), freshness (data older than allowed), "
        "quality (rows failed validation), schema_drift, retention_failed (the server's "
        "retention job could not clean a load), pii_unprotected (a load wrote a new "
        "personal-data column unmasked). The first version's failed, "
        "succeeded and quality_failed mean failure, success and quality.")

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        return yaml_on_key(data)

    @field_validator("on")
    @classmethod
    def _once_each(cls, events: list[str]) -> list[str]:
        twice = sorted({e for e in events if events.count(e) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is listed more than once")
        return events


class SlackAlert(AlertBase):
    """A Slack message: through an incoming webhook (``webhook_url``) or posted by a bot
    (``bot_token`` and ``channel``, Slack's chat.postMessage)."""

    type: Literal["slack"]
    webhook_url: SecretStr | None = Field(
        default=None, description="The incoming-webhook URL; use ${env:…}. Default: the "
        f"server's settings, then the {SLACK_WEBHOOK_ENV} environment variable")
    bot_token: SecretStr | None = Field(
        default=None, description="A bot token (xoxb-…) to post with chat.postMessage; needs "
        f"`channel`; use ${{env:…}}. Default: the server's settings, then {SLACK_BOT_TOKEN_ENV}")
    channel: str | None = Field(default=None, description="e.g. #data-alerts: where a bot "
                                "posts (a webhook posts to its own channel)")

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _http_url(value.get_secret_value(), "webhook_url")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> SlackAlert:
        if self.webhook_url is not None and self.bot_token is not None:
            raise ValueError("`webhook_url` and `bot_token` are two ways to reach Slack; "
                             "keep one of them")
        if self.bot_token is not None and not self.channel:
            raise ValueError("`bot_token` posts with chat.postMessage, which needs `channel` "
                             "(e.g. channel: \"#data-alerts\")")
        return self


def _either_recipients_key(schema: dict[str, Any]) -> None:
    properties = schema["properties"]
    properties["recipients"] = {**properties["to"], "description": "The same as `to`"}
    schema["required"] = [key for key in schema["required"] if key != "to"]
    schema["oneOf"] = [{"required": ["to"]}, {"required": ["recipients"]}]


class EmailAlert(AlertBase):
    """An e-mail sent over SMTP."""

    model_config = ConfigDict(json_schema_extra=_either_recipients_key)

    type: Literal["email"]
    to: list[EmailAddress] = Field(min_length=1, description="Recipients' addresses "
                                   "(`recipients:` is accepted too)")
    sender: EmailAddress | None = Field(default=None, alias="from",
                                        description="The From address (default: the "
                                        "server's settings, then DTEG_SMTP_FROM)")
    smtp_host: str | None = Field(default=None, description="Default: the server's "
                                  "settings, then DTEG_SMTP_HOST, then localhost")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="Default: the "
                                  "server's settings, then DTEG_SMTP_PORT, then 25 (465 "
                                  "with `ssl: true`)")
    smtp_user: str | None = Field(default=None, description="The login, if the server "
                                  "wants one (default: DTEG_SMTP_USER)")
    smtp_password: SecretStr | None = Field(default=None, description="Use ${env:…} "
                                            "(default: DTEG_SMTP_PASSWORD)")
    starttls: bool | None = Field(default=None, description="Upgrade the connection with "
                                  f"STARTTLS (default: true on port {SUBMISSION_PORT})")
    ssl: bool | None = Field(default=None, description="Speak TLS from the start, SMTPS "
                             f"(default: true on port {SMTPS_PORT})")

    @model_validator(mode="before")
    @classmethod
    def _recipients(cls, data: Any) -> Any:
        # The product description's example writes the recipients as `recipients:`.
        if isinstance(data, dict) and "recipients" in data:
            if "to" in data:
                raise ValueError("`recipients` and `to` are the same list; keep one of them")
            data = {("to" if k == "recipients" else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _one_tls(self) -> EmailAlert:
        if self.starttls and self.ssl:
            raise ValueError("`ssl: true` speaks TLS from the start and `starttls: true` "
                             "upgrades a plain connection; keep one of them (465 is usually "
                             "ssl, 587 starttls)")
        return self


class WebhookAlert(AlertBase):
    """A JSON POST of the run event to any URL."""

    type: Literal["webhook"]
    url: str = Field(description="http:// or https:// URL the event is POSTed to")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra request headers (values are kept secret), "
        "e.g. {Authorization: \"Bearer ${env:HOOK_TOKEN}\"}")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "url")


ALERT_MODELS: dict[str, type[AlertBase]] = {
    "slack": SlackAlert, "email": EmailAlert, "webhook": WebhookAlert}


def _known_alert_type(value: Any) -> Any:
    if isinstance(value, dict) and value.get("type") not in ALERT_MODELS:
        if "type" not in value:
            raise ValueError(f"an alert needs `type:`. "
                             f"{known_names_hint('alert types', '', ALERT_MODELS)}")
        raise ValueError(f"`type: {value['type']}` is not an alert type. "
                         f"{known_names_hint('alert types', value['type'], ALERT_MODELS)}")
    return value


Alert = Annotated[
    Annotated[SlackAlert | EmailAlert | WebhookAlert, Field(discriminator="type")],
    BeforeValidator(_known_alert_type),
]
