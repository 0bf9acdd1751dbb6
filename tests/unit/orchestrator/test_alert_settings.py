"""The server's alert settings (from the environment), and how an alert's own values and the
server's combine into a Slack route or an SMTP server, login and TLS — without sending."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr, TypeAdapter

from dteg.errors import ConfigError
from dteg.orchestrator.alerts import AlertDeliveryError, AlertMessage, AlertSettings
from dteg.orchestrator.alerts.channels import CHANNELS, channel_for, origin, send_slack
from dteg.orchestrator.alerts.mail import build_email, send_email, smtp_target
from dteg.spec.alerts import Alert, EmailAlert, SlackAlert, WebhookAlert

ALERTS = TypeAdapter(list[Alert])
MESSAGE = AlertMessage(pipeline="orders", event="failure", run_id="r1")


def one(item: dict[str, Any]) -> Any:
    [alert] = ALERTS.validate_python([item])
    return alert


def test_from_env_reads_every_variable_and_keeps_secrets_secret() -> None:
    settings = AlertSettings.from_env({
        "DTEG_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/hook-s3cret",
        "DTEG_SLACK_BOT_TOKEN": "xoxb-s3cret", "DTEG_SMTP_HOST": "smtp.example.com",
        "DTEG_SMTP_PORT": "587", "DTEG_SMTP_USER": "dteg", "DTEG_SMTP_PASSWORD": "pw-s3cret",
        "DTEG_SMTP_FROM": "dteg@example.com", "DTEG_SMTP_UNUSED": "x"})
    assert settings.slack_webhook_url is not None and settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-s3cret"
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_from) == (
        "smtp.example.com", 587, "dteg", "dteg@example.com")
    assert "s3cret" not in repr(settings)
    assert (settings.throttle, settings.timeout_s) == (dt.timedelta(minutes=15), 10.0)
    assert AlertSettings.from_env({"DTEG_SMTP_HOST": " "}) == AlertSettings()


@pytest.mark.parametrize("port", ["smtp", "0", "70000", "-1"])
def test_a_bad_port_in_the_environment_says_what_to_set(port: str) -> None:
    with pytest.raises(ConfigError) as info:
        AlertSettings.from_env({"DTEG_SMTP_PORT": port})
    assert info.value.render() == (
        f"DTEG_SMTP_PORT is {port!r}, which is not a port number. Set DTEG_SMTP_PORT to the "
        "SMTP server's port (587 for STARTTLS, 465 for SSL, 25 for plain) or unset it.")


def test_bad_throttle_or_timeout_are_refused() -> None:
    with pytest.raises(ConfigError, match="negative"):
        AlertSettings(throttle=dt.timedelta(seconds=-1))
    with pytest.raises(ConfigError, match="positive number of seconds"):
        AlertSettings(timeout_s=0)


def test_run_links_need_a_base_url_and_a_run() -> None:
    assert AlertSettings(base_url="https://dteg.example.com/").run_link("r1") == (
        "https://dteg.example.com/runs/r1")
    assert AlertSettings(base_url="https://dteg.example.com").run_link(None) is None
    assert AlertSettings().run_link("r1") is None


def test_channels_are_found_by_model_class() -> None:
    assert set(CHANNELS) == {SlackAlert, EmailAlert, WebhookAlert}
    assert channel_for(one({"type": "email", "to": ["a@b.com"]})) is send_email

    class TeamsAlert(WebhookAlert):  # a model derived from a known one uses its channel
        pass

    derived = TeamsAlert(type="webhook", url="https://x.example")
    assert channel_for(derived) is CHANNELS[WebhookAlert]
    with pytest.raises(AlertDeliveryError, match="no channel sends TeamsAlert alerts"):
        channel_for(derived, {SlackAlert: send_slack})


def test_an_origin_names_no_token() -> None:
    assert origin("https://user:pw@hooks.slack.com:443/services/T/B/X?x=1") == (
        "https://hooks.slack.com:443")


def test_slack_without_a_way_in_says_every_place_it_looked() -> None:
    with pytest.raises(AlertDeliveryError) as info:
        send_slack(one({"type": "slack", "channel": "#a"}), MESSAGE, AlertSettings())
    text = info.value.render()
    assert "names no `webhook_url` or `bot_token`, and the server has neither" in text
    assert "DTEG_SLACK_WEBHOOK_URL" in text and "DTEG_SLACK_BOT_TOKEN" in text
    with pytest.raises(AlertDeliveryError, match="needs a channel"):
        send_slack(one({"type": "slack"}), MESSAGE,
                   AlertSettings(slack_bot_token=SecretStr("xoxb-1")))


@pytest.mark.parametrize(("keys", "expected"), [
    ({}, ("localhost", 25, "none")),
    ({"smtp_port": 587}, ("localhost", 587, "starttls")),
    ({"smtp_port": 465}, ("localhost", 465, "ssl")),
    ({"ssl": True}, ("localhost", 465, "ssl")),
    ({"starttls": True}, ("localhost", 587, "starttls")),
    ({"smtp_port": 2525, "starttls": True}, ("localhost", 2525, "starttls")),
    ({"smtp_port": 587, "starttls": False}, ("localhost", 587, "none")),
    ({"smtp_port": 465, "starttls": True}, ("localhost", 465, "starttls")),
])
def test_tls_follows_the_port_unless_the_alert_says(keys: dict[str, Any],
                                                    expected: tuple[Any, ...]) -> None:
    target = smtp_target(one({"type": "email", "to": ["a@b.com"], **keys}), AlertSettings())
    assert (target.host, target.port, target.tls) == expected


def test_the_servers_smtp_settings_fill_what_the_alert_leaves_out() -> None:
    settings = AlertSettings(smtp_host="smtp.example.com", smtp_port=587, smtp_user="dteg",
                             smtp_password=SecretStr("pw"), smtp_from="dteg@example.com")
    target = smtp_target(one({"type": "email", "to": ["a@b.com"]}), settings)
    assert (target.host, target.port, target.tls, target.user, target.sender) == (
        "smtp.example.com", 587, "starttls", "dteg", "dteg@example.com")
    own = smtp_target(one({"type": "email", "to": ["a@b.com"], "from": "me@example.org",
                           "smtp_user": "me", "smtp_password": "mine"}), settings)
    assert (own.user, own.sender) == ("me", "me@example.org")
    assert own.password is not None and own.password.get_secret_value() == "mine"


def test_the_servers_login_is_not_given_to_another_host() -> None:
    settings = AlertSettings(smtp_host="smtp.example.com", smtp_port=587, smtp_user="dteg",
                             smtp_password=SecretStr("server-pw"))
    elsewhere = smtp_target(one({"type": "email", "to": ["a@b.com"],
                                 "smtp_host": "mail.elsewhere.example"}), settings)
    assert (elsewhere.host, elsewhere.port, elsewhere.user, elsewhere.password) == (
        "mail.elsewhere.example", 25, None, None)


@pytest.mark.parametrize(("keys", "text"), [
    ({"smtp_user": "u", "smtp_port": 587}, "logs in to localhost as u but has no password"),
    ({"smtp_password": "pw", "smtp_port": 587}, "has an SMTP password for localhost but no "
     "user"),
    ({"smtp_user": "u", "smtp_password": "pw"}, "would send its SMTP password to "
     "localhost:25 without TLS"),
])
def test_a_login_that_cannot_work_is_refused_before_connecting(keys: dict[str, Any],
                                                               text: str) -> None:
    with pytest.raises(AlertDeliveryError, match=text):
        smtp_target(one({"type": "email", "to": ["a@b.com"], **keys}), AlertSettings())


def test_the_email_goes_to_every_recipient_and_asks_robots_not_to_answer() -> None:
    alert = one({"type": "email", "to": ["a@b.com", "c@d.org"]})
    mail = build_email(alert, replace(MESSAGE, error="boom"), "dteg@example.com")
    assert (mail["To"], mail["From"], mail["Auto-Submitted"]) == (
        "a@b.com, c@d.org", "dteg@example.com", "auto-generated")
    assert mail["Subject"] == "[dteg] orders: run failed (run r1)"
    assert mail["Message-ID"].endswith("@example.com>")
    assert "  boom" in mail.get_content()
