"""The dispatcher without a network: which alerts an event reaches, throttling per (pipeline,
alert, event), failures recorded (redacted, one line) instead of raised, links added."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr, TypeAdapter

from dteg.errors import ConnectorError
from dteg.orchestrator.alerts import (
    AlertDispatcher,
    AlertMessage,
    AlertSettings,
    Delivery,
    MemoryAlertHistory,
    alert_key,
)
from dteg.spec.alerts import Alert, AlertBase, EmailAlert, SlackAlert, WebhookAlert

ALERTS = TypeAdapter(list[Alert])
NOW = dt.datetime(2024, 5, 1, 6, 0, tzinfo=dt.timezone.utc)
HOOK = "https://hooks.slack.com/services/T0/B0/hook-s3cret-token"


@dataclass
class Recorder:
    """A channel table whose senders record what they were given (or raise ``error``)."""

    sent: list[tuple[str, AlertMessage]] = field(default_factory=list)
    error: Callable[[AlertBase], Exception] | None = None

    def send(self, alert: AlertBase, message: AlertMessage, settings: AlertSettings) -> None:
        if self.error is not None:
            raise self.error(alert)
        self.sent.append((type(alert).__name__, message))

    def table(self) -> dict[type[AlertBase], Any]:
        return {SlackAlert: self.send, EmailAlert: self.send, WebhookAlert: self.send}


def alerts(*items: dict[str, Any]) -> list[Any]:
    return ALERTS.validate_python(list(items))


def message(event: str = "failure", pipeline: str = "orders", run_id: str = "r1"
            ) -> AlertMessage:
    return AlertMessage(pipeline=pipeline, event=event, run_id=run_id, error="boom")


def dispatcher(recorder: Recorder, history: MemoryAlertHistory | None = None,
               **settings: Any) -> AlertDispatcher:
    return AlertDispatcher(history or MemoryAlertHistory(), AlertSettings(**settings),
                           channels=recorder.table())


def test_only_alerts_sent_on_the_event_are_delivered() -> None:
    recorder = Recorder()
    pipeline_alerts = alerts(
        {"type": "slack", "webhook_url": HOOK},                           # on: [failure]
        {"type": "email", "to": ["a@b.com"], "on": ["success", "recovered"]},
        {"type": "webhook", "url": "https://x.example", "on": ["failed", "retry"]})
    deliveries = dispatcher(recorder).deliver(pipeline_alerts, message("failure"), NOW)
    assert [(d.channel, d.event, d.status) for d in deliveries] == [
        ("slack", "failure", "sent"), ("webhook", "failure", "sent")]
    assert [d.alert_key for d in deliveries] == [alert_key(pipeline_alerts[0], 0),
                                                 alert_key(pipeline_alerts[2], 2)]
    assert dispatcher(recorder).deliver(pipeline_alerts, message("sla"), NOW) == []
    assert [name for name, _ in recorder.sent] == ["SlackAlert", "WebhookAlert"]


def test_an_alert_key_is_its_type_and_place_and_holds_no_secret() -> None:
    slack = alerts({"type": "slack", "webhook_url": HOOK})[0]
    other = alerts({"type": "slack", "webhook_url": HOOK.replace("hook", "other")})[0]
    assert alert_key(slack, 0) == alert_key(other, 0)  # the URL is not part of it
    assert alert_key(slack, 0) != alert_key(slack, 1)
    assert len(alert_key(slack, 0)) == 16 and "s3cret" not in alert_key(slack, 0)


def test_one_delivery_per_throttle_interval_for_each_pipeline_alert_and_event() -> None:
    recorder, history = Recorder(), MemoryAlertHistory()
    dispatch = dispatcher(recorder, history, throttle=dt.timedelta(minutes=10))
    pipeline_alerts = alerts({"type": "slack", "webhook_url": HOOK,
                              "on": ["failure", "retry"]})

    def status(event: str, minutes: float, pipeline: str = "orders") -> str:
        [delivery] = dispatch.deliver(pipeline_alerts, message(event, pipeline),
                                      NOW + dt.timedelta(minutes=minutes))
        return delivery.status

    assert status("failure", 0) == "sent"
    assert status("failure", 9.9) == "throttled"
    assert status("retry", 9.9) == "sent"                       # another event
    assert status("failure", 9.9, pipeline="customers") == "sent"  # another pipeline
    assert status("failure", 10) == "sent"                      # the interval has passed
    assert status("failure", 15) == "throttled"                 # counted from the last sent
    assert len(recorder.sent) == 4
    assert [d.status for d in history.deliveries] == [
        "sent", "throttled", "sent", "sent", "sent", "throttled"]
    throttled = history.deliveries[1]
    assert (throttled.error, throttled.at) == (None, NOW + dt.timedelta(minutes=9.9))


def test_a_zero_throttle_sends_every_time() -> None:
    recorder = Recorder()
    dispatch = dispatcher(recorder, throttle=dt.timedelta(0))
    pipeline_alerts = alerts({"type": "slack", "webhook_url": HOOK})
    for _ in range(3):
        dispatch.deliver(pipeline_alerts, message(), NOW)
    assert len(recorder.sent) == 3


def test_a_failing_channel_is_recorded_redacted_on_one_line_and_never_raised() -> None:
    def leak(alert: AlertBase) -> Exception:
        return RuntimeError(f"POST {HOOK} failed\nwith token hook-s3cret-token, password "
                            "pw-s3cret, header Bearer hdr-s3cret, server xoxb-srv-s3cret")

    recorder, history = Recorder(error=leak), MemoryAlertHistory()
    pipeline_alerts = alerts(
        {"type": "slack", "webhook_url": HOOK},
        {"type": "email", "to": ["a@b.com"], "smtp_user": "u", "smtp_password": "pw-s3cret"},
        {"type": "webhook", "url": "https://x.example/hook?key=url-s3cret",
         "headers": {"Authorization": "Bearer hdr-s3cret"}})
    deliveries = dispatcher(recorder, history, slack_bot_token=SecretStr("xoxb-srv-s3cret")
                            ).deliver(pipeline_alerts, message(), NOW)
    assert [d.status for d in deliveries] == ["failed"] * 3
    slack_error = deliveries[0].error or ""
    assert slack_error == ("RuntimeError: POST *** failed with token ***, password pw-s3cret, "
                           "header Bearer hdr-s3cret, server ***")
    for delivery in deliveries:
        assert "\n" not in (delivery.error or "")
    # Each alert's own secrets are masked in its own error.
    assert "pw-s3cret" not in (deliveries[1].error or "")
    assert "hdr-s3cret" not in (deliveries[2].error or "")
    assert list(history.deliveries) == deliveries


def test_a_dteg_error_is_recorded_with_its_hint_and_a_long_one_is_cut() -> None:
    recorder = Recorder(error=lambda alert: ConnectorError("x" * 2000, hint="Fix it."))
    [delivery] = dispatcher(recorder).deliver(
        alerts({"type": "slack", "webhook_url": HOOK}), message(), NOW)
    assert delivery.error is not None and len(delivery.error) == 500
    assert delivery.error.endswith("…")
    recorder.error = lambda alert: ConnectorError("refused", hint="Fix it.")
    [delivery] = dispatcher(recorder).deliver(
        alerts({"type": "slack", "webhook_url": HOOK}), message(), NOW)
    assert delivery.error == "refused. Fix it."


def test_a_failed_delivery_does_not_throttle_the_next_one() -> None:
    recorder, history = Recorder(error=lambda alert: OSError("down")), MemoryAlertHistory()
    pipeline_alerts = alerts({"type": "slack", "webhook_url": HOOK})
    dispatcher(recorder, history).deliver(pipeline_alerts, message(), NOW)
    recorder.error = None
    [second] = dispatcher(recorder, history).deliver(
        pipeline_alerts, message(), NOW + dt.timedelta(seconds=1))
    assert second.status == "sent"


class BrokenHistory:
    def last_sent(self, pipeline: str, alert_key: str, event: str) -> dt.datetime | None:
        raise ConnectionError("store is down")

    def record(self, delivery: Delivery) -> None:
        raise ConnectionError("store is down")


def test_a_broken_history_neither_raises_nor_stops_the_alert(
        caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    dispatch = AlertDispatcher(BrokenHistory(), AlertSettings(), channels=recorder.table())
    [delivery] = dispatch.deliver(alerts({"type": "slack", "webhook_url": HOOK}), message(), NOW)
    assert delivery.status == "sent" and len(recorder.sent) == 1
    assert "alert history unreadable (ConnectionError: store is down)" in caplog.text
    assert "could not record the alert delivery" in caplog.text


def test_naive_and_aware_times_compare_as_utc() -> None:
    recorder, history = Recorder(), MemoryAlertHistory()
    pipeline_alerts = alerts({"type": "slack", "webhook_url": HOOK})
    dispatcher(recorder, history).deliver(pipeline_alerts, message(), NOW.replace(tzinfo=None))
    [second] = dispatcher(recorder, history).deliver(
        pipeline_alerts, message(), NOW + dt.timedelta(minutes=1))
    assert second.status == "throttled"
    assert history.deliveries[0].at == NOW


def test_the_link_to_the_run_is_added_from_the_base_url() -> None:
    recorder = Recorder()
    pipeline_alerts = alerts({"type": "slack", "webhook_url": HOOK})
    dispatcher(recorder, base_url="https://dteg.example.com").deliver(
        pipeline_alerts, message(run_id="r9"), NOW)
    assert recorder.sent[0][1].link == "https://dteg.example.com/runs/r9"


def test_failures_are_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(error=lambda alert: RuntimeError(f"cannot POST {HOOK}"))
    with caplog.at_level("INFO", logger="dteg.orchestrator.alerts.dispatcher"):
        dispatcher(recorder).deliver(alerts({"type": "slack", "webhook_url": HOOK}),
                                     message(), NOW)
    assert "alert not delivered: pipeline orders, alert 1 (slack), event failure, run r1: " \
           "RuntimeError: cannot POST ***" in caplog.text
    assert "s3cret" not in caplog.text
