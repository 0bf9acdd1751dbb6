"""Deliver a run event to the pipeline's alerts: pick those sent on it, throttle repeats, send,
record what happened. Never raises: an alert that cannot be sent must not fail the run, the
scheduler or the other alerts.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from dteg.errors import DtegError
from dteg.orchestrator.alerts.channels import CHANNELS, Channel, channel_for
from dteg.orchestrator.alerts.history import AlertHistory, Delivery, DeliveryStatus
from dteg.orchestrator.alerts.message import AlertMessage
from dteg.orchestrator.alerts.settings import AlertSettings
from dteg.spec.alerts import Alert, AlertBase, WebhookAlert
from dteg.spec.secrets import Redactor

log = logging.getLogger(__name__)
# A delivery's error is one line of at most this many characters.
_ERROR_LIMIT = 500
# The path or query of a secret URL shorter than this is not masked on its own ("/hook").
_SECRET_PART = 8


def alert_key(alert: Alert, index: int) -> str:
    """The name of an alert in the history: a hash of its type and its place in the
    pipeline's ``monitoring.alerts`` (no address, URL or token)."""
    return hashlib.sha256(f"{alert.type}:{index}".encode()).hexdigest()[:16]


class AlertDispatcher:
    """Sends run events to alerts, at most once per ``settings.throttle`` for each
    (pipeline, alert, event), and records every delivery in ``history``.

    Without ``settings``, they are read from the environment (``AlertSettings.from_env``,
    which raises ``ConfigError`` for a malformed value: at start-up, not at the first alert).
    ``channels`` replaces the senders (tests, or a channel of one's own).
    """

    def __init__(self, history: AlertHistory, settings: AlertSettings | None = None, *,
                 channels: Mapping[type[AlertBase], Channel] = CHANNELS) -> None:
        self.history = history
        self.settings = settings if settings is not None else AlertSettings.from_env()
        self.channels = channels
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def deliver(self, alerts: Sequence[Alert], message: AlertMessage, now: datetime
                ) -> list[Delivery]:
        """Send ``message`` to each of ``alerts`` (the pipeline's whole
        ``monitoring.alerts``, in order: an alert's place names it) whose ``on`` lists its
        event. Returns one delivery per such alert: sent, failed or throttled."""
        if message.link is None and (link := self.settings.run_link(message.run_id)):
            message = replace(message, link=link)
        return [self._deliver_one(alert, index, message, _utc(now))
                for index, alert in enumerate(alerts) if message.event in alert.on]

    def _deliver_one(self, alert: Alert, index: int, message: AlertMessage,
                     now: datetime) -> Delivery:
        key = alert_key(alert, index)
        with self._lock((message.pipeline, key, message.event)):
            error: str | None = None
            status: DeliveryStatus = "sent"
            if self._throttled(message, key, now):
                status = "throttled"
            else:
                try:
                    channel_for(alert, self.channels)(alert, message, self.settings)
                except Exception as exc:  # any failure of a channel is recorded, not raised
                    status, error = "failed", self._redacted(alert, exc)
            delivery = Delivery(pipeline=message.pipeline, run_id=message.run_id,
                                alert_key=key, channel=alert.type, event=message.event,
                                status=status, error=error, at=now)
            self._record(delivery, index)
        return delivery

    def _throttled(self, message: AlertMessage, key: str, now: datetime) -> bool:
        try:
            last = self.history.last_sent(message.pipeline, key, message.event)
        except Exception as exc:
            # Better one alert too many than one missed.
            log.warning("alert history unreadable (%s: %s); sending without throttling",
                        type(exc).__name__, _one_line(str(exc)))
            return False
        return last is not None and now - _utc(last) < self.settings.throttle

    def _record(self, delivery: Delivery, index: int) -> None:
        where = (f"pipeline {delivery.pipeline}, alert {index + 1} ({delivery.channel}), "
                 f"event {delivery.event}, run {delivery.run_id}")
        if delivery.status == "failed":
            log.warning("alert not delivered: %s: %s", where, delivery.error)
        else:
            log.info("alert %s: %s", delivery.status, where)
        try:
            self.history.record(delivery)
        except Exception as exc:
            log.error("could not record the alert delivery (%s): %s: %s", where,
                      type(exc).__name__, _one_line(str(exc)))

    def _redacted(self, alert: AlertBase, exc: Exception) -> str:
        text = exc.render() if isinstance(exc, DtegError) else f"{type(exc).__name__}: {exc}"
        redact = Redactor()
        for secret in _secrets(alert, self.settings):
            redact.add(secret)
        return _one_line(redact(text))

    def _lock(self, key: tuple[str, str, str]) -> threading.Lock:
        # Two threads delivering the same alert and event must not both pass the throttle.
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())


def _secrets(alert: AlertBase, settings: AlertSettings) -> Iterator[str]:
    """Every secret an error could echo: the alert's and the server's secret values (and the
    path, its last part and the query of a secret URL, where a Slack webhook keeps its
    token), and the URL of a webhook."""
    values = [*_secret_values(alert), *(s.get_secret_value() for s in (
        settings.slack_webhook_url, settings.slack_bot_token, settings.smtp_password) if s)]
    for value in values:
        yield value
        yield from value.split()[1:]  # the token of "Bearer xyz"
        if "://" in value:
            parts = urlsplit(value)
            path = parts.path.strip("/")
            yield from (part for part in (path, path.rpartition("/")[2], parts.query)
                        if len(part) >= _SECRET_PART)
    if isinstance(alert, WebhookAlert):
        yield alert.url


def _secret_values(model: BaseModel) -> list[str]:
    found = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value.values() if isinstance(value, dict) else [value]
        found += [v.get_secret_value() for v in items if isinstance(v, SecretStr)]
    return found


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"


def _utc(moment: datetime) -> datetime:
    # A naive time is taken as UTC, so the store's and the caller's times always compare.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
