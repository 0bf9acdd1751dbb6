"""The alert models as the orchestrator reads them: the event names and their old aliases,
Slack's two ways in, the SMTP login and TLS keys, and secrets kept out of every repr."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from dteg.spec.alerts import (
    ALERT_EVENTS,
    EVENT_ALIASES,
    Alert,
    EmailAlert,
    SlackAlert,
    WebhookAlert,
    normalise_event,
)

ALERTS = TypeAdapter(list[Alert])


def one(item: dict[str, Any]) -> Any:
    [alert] = ALERTS.validate_python([item])
    return alert


def test_the_events_are_the_orchestrators_names() -> None:
    assert ALERT_EVENTS == ("failure", "retry", "success", "recovered", "sla", "freshness",
                            "quality", "schema_drift", "retention_failed", "pii_unprotected")
    assert one({"type": "slack"}).on == ["failure"]


@pytest.mark.parametrize(("old", "new"), sorted(EVENT_ALIASES.items()))
def test_the_first_versions_names_are_read_as_the_new_ones(old: str, new: str) -> None:
    assert normalise_event(old) == new
    assert one({"type": "webhook", "url": "https://x.example", "on": [old, "sla"]}).on == [
        new, "sla"]


def test_yaml_on_read_as_true_is_the_on_key() -> None:
    # PyYAML (YAML 1.1) reads the bare key `on` as the boolean true.
    assert one({"type": "slack", True: ["retry", "freshness"]}).on == ["retry", "freshness"]


def test_the_seed_style_alerts_are_valid_without_any_setting() -> None:
    slack = one({"type": "slack", "channel": "#data-alerts"})
    email = one({"type": "email", "recipients": ["a@b.com"]})
    assert isinstance(slack, SlackAlert) and (slack.webhook_url, slack.bot_token) == (None, None)
    assert isinstance(email, EmailAlert) and email.to == ["a@b.com"]
    assert (email.smtp_host, email.smtp_port, email.starttls, email.ssl) == (None,) * 4


def test_slack_with_a_bot_token_needs_a_channel_and_not_also_a_webhook() -> None:
    bot = one({"type": "slack", "bot_token": "xoxb-123-secret", "channel": "#ops"})
    assert bot.bot_token.get_secret_value() == "xoxb-123-secret"
    with pytest.raises(ValidationError, match="needs `channel`"):
        one({"type": "slack", "bot_token": "xoxb-123-secret"})
    with pytest.raises(ValidationError, match="keep one of them"):
        one({"type": "slack", "bot_token": "x", "channel": "#a",
             "webhook_url": "https://hooks.slack.com/services/T/B/X"})


def test_email_takes_a_login_and_one_kind_of_tls() -> None:
    email = one({"type": "email", "to": ["ops@example.com"], "from": "dteg@example.com",
                 "smtp_host": "smtp.example.com", "smtp_port": 465, "smtp_user": "dteg",
                 "smtp_password": "pw-s3cret", "ssl": True})
    assert (email.sender, email.smtp_user, email.ssl, email.starttls) == (
        "dteg@example.com", "dteg", True, None)
    assert email.smtp_password.get_secret_value() == "pw-s3cret"
    with pytest.raises(ValidationError, match="keep one of them"):
        one({"type": "email", "to": ["ops@example.com"], "ssl": True, "starttls": True})


def test_secrets_stay_out_of_repr_and_errors() -> None:
    alerts = ALERTS.validate_python([
        {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/hook-s3cret"},
        {"type": "slack", "bot_token": "xoxb-s3cret", "channel": "#a"},
        {"type": "email", "to": ["a@b.com"], "smtp_user": "u", "smtp_password": "pw-s3cret"},
        {"type": "webhook", "url": "https://x.example", "headers": {"A": "Bearer h-s3cret"}},
    ])
    assert "s3cret" not in repr(alerts)
    # A model's own validation error does not echo its input either.
    with pytest.raises(ValidationError) as info:
        SlackAlert.model_validate({"type": "slack", "bot_token": "xoxb-s3cret"})
    assert "s3cret" not in str(info.value)
    assert isinstance(alerts[3], WebhookAlert)
