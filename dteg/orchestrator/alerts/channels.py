"""One sender per alert model: Slack (incoming webhook or chat.postMessage), e-mail over SMTP,
webhook JSON. ``CHANNELS`` finds the sender by the alert's model class.

A sender returns when the receiver accepted the message and raises ``AlertDeliveryError``
(with ``retriable``) when it did not. Its messages name the receiver by scheme, host and port
only: the path of a Slack webhook URL is its token. HTTP goes through urllib and mail through
smtplib, so sending needs nothing beyond the standard library.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from dteg.orchestrator.alerts.errors import AlertDeliveryError
from dteg.orchestrator.alerts.mail import send_email
from dteg.orchestrator.alerts.message import AlertMessage, slack_payload, webhook_payload
from dteg.orchestrator.alerts.settings import AlertSettings
from dteg.spec.alerts import (
    SLACK_BOT_TOKEN_ENV,
    SLACK_WEBHOOK_ENV,
    AlertBase,
    EmailAlert,
    SlackAlert,
    WebhookAlert,
)
from dteg.version import __version__

# A sender's first argument is an instance of the model ``CHANNELS`` keys it by.
Channel = Callable[[Any, AlertMessage, AlertSettings], None]
# Enough of a refusal's body to say why; receivers sometimes answer with a whole HTML page.
_BODY_SHOWN = 300


def send_slack(alert: SlackAlert, message: AlertMessage, settings: AlertSettings) -> None:
    """Post to the alert's webhook or with its bot token; without either, with the server's
    (webhook first)."""
    webhook = alert.webhook_url or (None if alert.bot_token else settings.slack_webhook_url)
    token = alert.bot_token or (None if alert.webhook_url else settings.slack_bot_token)
    if webhook is not None:
        url = webhook.get_secret_value()
        post_json(url, slack_payload(message, alert.channel), headers={},
                  timeout=settings.timeout_s, what=f"the Slack webhook at {origin(url)}",
                  ca_file=settings.ca_file)
        return
    if token is None:
        raise AlertDeliveryError(
            "this Slack alert has no way to reach Slack: it names no `webhook_url` or "
            "`bot_token`, and the server has neither",
            hint=f"Add `webhook_url: ${{env:…}}` to the alert, or give the server "
            f"{SLACK_WEBHOOK_ENV} (an incoming webhook) or {SLACK_BOT_TOKEN_ENV} (a bot token; "
            "the alert then needs `channel`).")
    if not alert.channel:
        raise AlertDeliveryError(
            "this Slack alert is posted with the server's bot token, which needs a channel",
            hint="Add `channel: \"#data-alerts\"` to the alert.")
    url = f"{settings.slack_api_base.rstrip('/')}/chat.postMessage"
    body = post_json(url, slack_payload(message, alert.channel),
                     headers={"Authorization": f"Bearer {token.get_secret_value()}"},
                     timeout=settings.timeout_s, what=f"Slack's API at {origin(url)}",
                     ca_file=settings.ca_file)
    _check_slack_answer(body, alert.channel)


def send_webhook(alert: WebhookAlert, message: AlertMessage, settings: AlertSettings) -> None:
    """POST the message's JSON to the alert's URL, with its headers."""
    headers = {name: value.get_secret_value() for name, value in alert.headers.items()}
    post_json(alert.url, webhook_payload(message), headers=headers, timeout=settings.timeout_s,
              what=f"the webhook at {origin(alert.url)}", ca_file=settings.ca_file)


CHANNELS: dict[type[AlertBase], Channel] = {
    SlackAlert: send_slack,
    EmailAlert: send_email,
    WebhookAlert: send_webhook,
}


def channel_for(alert: AlertBase, channels: Mapping[type[AlertBase], Channel] = CHANNELS
                ) -> Channel:
    """The sender of ``alert``'s model (or of the nearest model it derives from)."""
    for cls in type(alert).__mro__:
        if cls in channels:
            return channels[cls]
    known = ", ".join(sorted(c.__name__ for c in channels))
    raise AlertDeliveryError(f"no channel sends {type(alert).__name__} alerts (known: {known})",
                             hint="Register a sender for this alert model in the channels "
                             "table given to the dispatcher.")


def post_json(url: str, payload: Mapping[str, Any], *, headers: Mapping[str, str],
              timeout: float, what: str, ca_file: str | None = None) -> bytes:
    """POST ``payload`` as JSON; the answer's body (at most 64 KiB) when it is a 2xx."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 "User-Agent": f"dteg/{__version__}", **headers})
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
            body: bytes = answer.read(65536)
            return body
    except urllib.error.HTTPError as exc:
        said = exc.read(_BODY_SHOWN).decode("utf-8", "replace").strip()
        raise AlertDeliveryError(
            f"{what} answered HTTP {exc.code} {exc.reason}" + (f": {said}" if said else ""),
            retriable=exc.code in (408, 429) or exc.code >= 500,
            hint="Check the URL and the headers the alert sends." if exc.code in (
                401, 403, 404) else None) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise AlertDeliveryError(f"could not reach {what}: {reason}", retriable=True,
                                 hint="Check that it is up and reachable from the server."
                                 ) from None


def origin(url: str) -> str:
    """``https://hooks.slack.com`` of a URL: the part that names no token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


# What to do about the errors chat.postMessage answers most (https://api.slack.com/methods).
_SLACK_HINTS = {
    "channel_not_found": "Check `channel`, and that the bot can see it.",
    "not_in_channel": "Invite the bot to the channel (/invite @the-bot).",
    "invalid_auth": "Check the bot token (xoxb-…).",
    "not_authed": "Check the bot token (xoxb-…).",
    "token_revoked": "Make a new bot token.",
    "missing_scope": "Give the bot the chat:write scope.",
}


def _check_slack_answer(body: bytes, channel: str) -> None:
    try:
        answer = json.loads(body)
    except ValueError:
        raise AlertDeliveryError("Slack's API answered with something that is not JSON",
                                 retriable=True) from None
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        error = str(answer.get("error", "no reason given")) if isinstance(answer, dict) else "?"
        raise AlertDeliveryError(
            f"Slack refused the message to {channel}: {error}",
            retriable=error in ("ratelimited", "service_unavailable", "fatal_error"),
            hint=_SLACK_HINTS.get(error))
