"""The e-mail channel: which SMTP server, login and TLS an alert is sent with, and the
sending itself (smtplib: SMTPS, STARTTLS, AUTH).

The alert's own values win, the server's settings fill what it leaves out. The server's login
is used only for the server's SMTP host: an alert that names another host does not get the
server's password. A password is never sent over a connection without TLS.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from pydantic import SecretStr

from dteg.orchestrator.alerts.errors import AlertDeliveryError
from dteg.orchestrator.alerts.message import AlertMessage, email_content
from dteg.orchestrator.alerts.settings import (
    SMTP_FROM_ENV,
    SMTP_PASSWORD_ENV,
    SMTP_USER_ENV,
    AlertSettings,
)
from dteg.spec.alerts import SMTPS_PORT, SUBMISSION_PORT, EmailAlert

_PLAIN_PORT = 25


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how one e-mail alert is sent."""

    host: str
    port: int
    tls: Literal["ssl", "starttls", "none"]
    user: str | None
    password: SecretStr | None
    sender: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_target(alert: EmailAlert, settings: AlertSettings) -> SmtpTarget:
    """The server, TLS, login and From address of ``alert``; raises ``AlertDeliveryError``
    when the login is half given or would be sent in the clear."""
    server_host = alert.smtp_host is None or alert.smtp_host == settings.smtp_host
    host = alert.smtp_host or settings.smtp_host or "localhost"
    port = alert.smtp_port or (settings.smtp_port if server_host else None) or (
        SMTPS_PORT if alert.ssl else SUBMISSION_PORT if alert.starttls else _PLAIN_PORT)
    ssl_on = alert.ssl if alert.ssl is not None else (port == SMTPS_PORT and not alert.starttls)
    starttls = (alert.starttls if alert.starttls is not None
                else port == SUBMISSION_PORT and not ssl_on)
    user = alert.smtp_user or (settings.smtp_user if server_host else None)
    password = alert.smtp_password or (settings.smtp_password if server_host else None)
    if password is not None and user is None:
        raise AlertDeliveryError(
            f"this e-mail alert has an SMTP password for {host} but no user to log in as",
            hint=f"Add `smtp_user:` to the alert (or set {SMTP_USER_ENV} for the server).")
    if user is not None and password is None:
        raise AlertDeliveryError(
            f"this e-mail alert logs in to {host} as {user} but has no password",
            hint=f"Add `smtp_password: ${{env:…}}` to the alert (or set {SMTP_PASSWORD_ENV} "
            "for the server).")
    tls: Literal["ssl", "starttls", "none"] = (
        "ssl" if ssl_on else "starttls" if starttls else "none")
    if user is not None and tls == "none":
        raise AlertDeliveryError(
            f"this e-mail alert would send its SMTP password to {host}:{port} without TLS",
            hint="Add `starttls: true` (or `ssl: true`) to the alert, or use port 587 (STARTTLS)"
            " or 465 (SSL).")
    sender = alert.sender or settings.smtp_from or f"dteg@{socket.getfqdn()}"
    return SmtpTarget(host, port, tls, user, password, sender)


def build_email(alert: EmailAlert, message: AlertMessage, sender: str) -> EmailMessage:
    """The e-mail of ``message`` to the alert's recipients."""
    subject, body = email_content(message)
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = ", ".join(alert.to)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # RFC 3834: mail robots do not answer it (no out-of-office replies to the alert).
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(body)
    return mail


def send_email(alert: EmailAlert, message: AlertMessage, settings: AlertSettings) -> None:
    """Send ``message`` by e-mail to the alert's recipients; raises ``AlertDeliveryError``."""
    target = smtp_target(alert, settings)
    mail = build_email(alert, message, target.sender)
    context = ssl.create_default_context(cafile=settings.ca_file)
    try:
        client = (smtplib.SMTP_SSL(target.host, target.port, timeout=settings.timeout_s,
                                   context=context) if target.tls == "ssl"
                  else smtplib.SMTP(target.host, target.port, timeout=settings.timeout_s))
        with client:
            if target.tls == "starttls":
                client.starttls(context=context)
            if target.user is not None and target.password is not None:
                client.login(target.user, target.password.get_secret_value())
            refused = client.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise AlertDeliveryError(
            f"the SMTP server {target} refused the login of {target.user}: {_said(exc)}",
            hint="Check `smtp_user` and `smtp_password` (or DTEG_SMTP_USER and "
            "DTEG_SMTP_PASSWORD).") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise AlertDeliveryError(
            f"the SMTP server {target} refused every recipient ({', '.join(exc.recipients)})",
            hint="Check the alert's `to:` addresses.") from None
    except smtplib.SMTPSenderRefused as exc:
        raise AlertDeliveryError(
            f"the SMTP server {target} refused the sender {target.sender}: {_said(exc)}",
            hint=f"Set `from:` in the alert (or {SMTP_FROM_ENV}) to an address it accepts."
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise AlertDeliveryError(
            f"could not verify the TLS certificate of the SMTP server {target}: "
            f"{exc.verify_message}",
            hint="Give the server's CA certificates to the server (AlertSettings.ca_file) "
            "if it uses a private CA.") from None
    except smtplib.SMTPResponseException as exc:
        raise AlertDeliveryError(f"the SMTP server {target} answered {_said(exc)}",
                                 retriable=400 <= exc.smtp_code < 500) from None
    except (smtplib.SMTPException, OSError) as exc:
        # Unreachable, timed out, closed the connection, or lacks STARTTLS/AUTH.
        raise AlertDeliveryError(
            f"could not send the e-mail through the SMTP server {target} "
            f"({target.tls}): {type(exc).__name__}: {exc}", retriable=True,
            hint="Check that it is up and reachable from the server, and its port and "
            "TLS settings (`smtp_port`, `starttls`, `ssl`).") from None
    if refused:
        raise AlertDeliveryError(
            f"the SMTP server {target} refused {', '.join(sorted(refused))} (the others got "
            "the e-mail)", hint="Check those addresses in the alert's `to:`.")


def _said(exc: smtplib.SMTPResponseException) -> str:
    said = exc.smtp_error
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return f"{exc.smtp_code} {' '.join(text.split())}"
