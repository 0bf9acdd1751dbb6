"""What an alert says about a run, and how each channel shows it: a Slack message (blocks and
the fallback text), an e-mail (subject and plain-text body) and the JSON of a webhook.

The message holds no secrets: ``error`` is redacted by whoever builds it (the run's error is
already redacted when the run records it), and links point at the server's own UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dteg.spec.alerts import ALERT_EVENTS

# What each event says after the pipeline's name ("orders: run failed").
EVENT_TITLES: dict[str, str] = {
    "failure": "run failed",
    "retry": "attempt failed, will retry",
    "success": "run succeeded",
    "recovered": "recovered (succeeded after a failure)",
    "sla": "missed its SLA",
    "freshness": "data is stale",
    "quality": "rows failed quality checks",
    "schema_drift": "schema changed",
    "retention_failed": "retention job failed",
    "pii_unprotected": "personal data loaded unprotected",
}
_SLACK_EMOJI: dict[str, str] = {
    "failure": ":red_circle:", "retry": ":large_orange_circle:", "success": ":large_green_circle:",
    "recovered": ":large_green_circle:", "sla": ":hourglass:", "freshness": ":hourglass:",
    "quality": ":warning:", "schema_drift": ":warning:", "retention_failed": ":red_circle:",
    "pii_unprotected": ":warning:"}
# Slack refuses a section whose text is over 3,000 characters; leave room for the markup.
_SLACK_TEXT_LIMIT = 2800


@dataclass(frozen=True)
class AlertMessage:
    """One run event to tell people about. ``event`` is one of ``ALERT_EVENTS`` (the names
    alerts list in ``on:``); everything else is what is known about the run, or None."""

    pipeline: str
    event: str
    run_id: str | None = None
    status: str | None = None
    error: str | None = None  # already redacted
    attempt: int | None = None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_dead_lettered: int | None = None
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    link: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.event not in ALERT_EVENTS:
            raise ValueError(f"alert event {self.event!r} is not one of "
                             f"{', '.join(ALERT_EVENTS)}: build the message with one of them")

    @property
    def title(self) -> str:
        """``orders: run failed``."""
        return f"{self.pipeline}: {EVENT_TITLES[self.event]}"

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) for each thing known about the run, in the order people read them."""
        facts = [("Pipeline", self.pipeline), ("Event", self.event)]
        for label, value in (("Run", self.run_id), ("Status", self.status),
                             ("Attempt", self.attempt)):
            if value is not None:
                facts.append((label, str(value)))
        for label, moment in (("Scheduled", self.scheduled_at), ("Started", self.started_at),
                              ("Finished", self.finished_at)):
            if moment is not None:
                facts.append((label, _when(moment)))
        if self.duration_s is not None:
            facts.append(("Duration", _duration(self.duration_s)))
        if (rows := self.rows()) is not None:
            facts.append(("Rows", rows))
        return facts

    def rows(self) -> str | None:
        """``read 100, loaded 90, dead-lettered 10`` (the counts that are known)."""
        counts = [f"{label} {value:,}" for label, value in (
            ("read", self.rows_read), ("loaded", self.rows_loaded),
            ("dead-lettered", self.rows_dead_lettered)) if value is not None]
        return ", ".join(counts) or None

    def summary(self) -> str:
        """One line: title, run, error and counts (the text of a notification)."""
        parts = [self.title]
        if self.run_id:
            parts.append(f"run {self.run_id}" + (f" (attempt {self.attempt})"
                                                 if self.attempt is not None else ""))
        if self.error:
            parts.append(f"error: {self.error}")
        if (rows := self.rows()) is not None:
            parts.append(f"rows {rows}")
        return " — ".join(parts)


def slack_payload(message: AlertMessage, channel: str | None = None) -> dict[str, Any]:
    """The JSON body of a Slack message: ``text`` (shown in notifications and by clients
    without blocks) and ``blocks``; ``channel`` when a bot posts it."""
    fields = [{"type": "mrkdwn", "text": f"*{label}*\n{_escape(value)}"}
              for label, value in message.facts()][:10]  # Slack's limit per section
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
        {"type": "section", "fields": fields},
    ]
    if message.error:
        error = _escape(_clip(message.error, _SLACK_TEXT_LIMIT))
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": f"*Error*\n```{error}```"}})
    if message.detail:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": _escape(_clip(message.detail, _SLACK_TEXT_LIMIT))}})
    text = f"{_SLACK_EMOJI[message.event]} {_escape(message.summary())}"
    if message.link:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{message.link}|Open the run in dteg>"}]})
        text += f" <{message.link}|Open the run>"
    payload: dict[str, Any] = {"text": text, "blocks": blocks}
    if channel:
        payload["channel"] = channel
    return payload


def email_content(message: AlertMessage) -> tuple[str, str]:
    """(subject, plain-text body) of the e-mail."""
    subject = f"[dteg] {message.title}"
    if message.run_id:
        subject += f" (run {message.run_id})"
    width = max(len(label) for label, _ in message.facts()) + 2
    lines = [f"{message.title}.", ""]
    lines += [f"{label + ':':<{width}}{value}" for label, value in message.facts()]
    if message.error:
        lines += ["", "Error:", *(f"  {line}" for line in message.error.splitlines())]
    if message.detail:
        lines += ["", message.detail]
    if message.link:
        lines += ["", f"Open the run: {message.link}"]
    lines += ["", "-- ", "Sent by dteg server (monitoring.alerts of the pipeline)."]
    # A subject is one line, whatever the pipeline's name holds.
    return " ".join(subject.split()), "\n".join(lines) + "\n"


def webhook_payload(message: AlertMessage) -> dict[str, Any]:
    """The JSON a webhook receives: every field of the message (times in ISO 8601), plus
    ``title`` and ``text`` (the one-line summary) for receivers that only show text."""
    body: dict[str, Any] = {"source": "dteg", "title": message.title, "text": message.summary()}
    for name in AlertMessage.__dataclass_fields__:
        value = getattr(message, name)
        body[name] = value.isoformat() if isinstance(value, datetime) else value
    return body


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {rest:02d}s" if hours else f"{minutes}m {rest:02d}s"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    # Slack's mrkdwn reads <…> as links and mentions; &, < and > must be escaped.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
