"""``monitoring.alerts``: where the orchestrator sends word of a run, one model per channel.

Each alert says which run events it is sent for (``on:``, default ``[failed]``). The
orchestrator sends them (dteg server, which is not available yet); ``dteg run`` says that it
ignores them (``run_notices``).
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
    field_validator,
    model_validator,
)

from dteg.spec.names import known_names_hint

AlertEvent = Literal["failed", "succeeded", "quality_failed", "schema_drift", "recovered"]
ALERT_EVENTS: tuple[str, ...] = get_args(AlertEvent)
_DEFAULT_EVENTS: tuple[AlertEvent, ...] = ("failed",)
# The environment variable a Slack alert without `webhook_url` is sent through.
SLACK_WEBHOOK_ENV = "DTEG_SLACK_WEBHOOK_URL"
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


class AlertBase(BaseModel):
    """What every alert has: the events it is sent for."""

    model_config = ConfigDict(extra="forbid")

    on: list[AlertEvent] = Field(
        default_factory=lambda: list(_DEFAULT_EVENTS), min_length=1,
        description="The run events this alert is sent for: failed, succeeded, "
        "quality_failed, schema_drift, recovered (the first success after a failure)")

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 (PyYAML) reads the key `on` as the boolean true.
        if isinstance(data, dict) and True in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @field_validator("on")
    @classmethod
    def _once_each(cls, events: list[str]) -> list[str]:
        twice = sorted({e for e in events if events.count(e) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is listed more than once")
        return events


class SlackAlert(AlertBase):
    """A message to a Slack incoming webhook."""

    type: Literal["slack"]
    webhook_url: SecretStr | None = Field(
        default=None, description="The incoming-webhook URL; use ${env:…}. Default: the "
        f"{SLACK_WEBHOOK_ENV} environment variable, read when the alert is sent")
    channel: str | None = Field(default=None, description="e.g. #data-alerts (default: the "
                                "webhook's own channel)")

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _http_url(value.get_secret_value(), "webhook_url")
        return value


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
                                        description="The From address")
    smtp_host: str | None = Field(default=None, description="Default: localhost")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="Default: 25")

    @model_validator(mode="before")
    @classmethod
    def _recipients(cls, data: Any) -> Any:
        # The product description's example writes the recipients as `recipients:`.
        if isinstance(data, dict) and "recipients" in data:
            if "to" in data:
                raise ValueError("`recipients` and `to` are the same list; keep one of them")
            data = {("to" if k == "recipients" else k): v for k, v in data.items()}
        return data


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
