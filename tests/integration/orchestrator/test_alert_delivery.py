"""Alerts delivered to real receivers on 127.0.0.1: an HTTP server (Slack's incoming webhook,
Slack's chat.postMessage, a webhook) and SMTP servers (aiosmtpd: STARTTLS with a self-signed
certificate and AUTH PLAIN/LOGIN, SMTPS, a plain relay). Times are passed in, never waited
for; secrets never reach a delivery's error."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr, TypeAdapter

from dteg.orchestrator.alerts import (
    AlertDispatcher,
    AlertMessage,
    AlertSettings,
    Delivery,
    MemoryAlertHistory,
)
from dteg.spec.alerts import Alert
from dteg.spec.phases import compile_spec
from tests.unit._helpers import REPO

pytestmark = pytest.mark.integration

NOW = dt.datetime(2024, 5, 1, 6, 0, tzinfo=dt.timezone.utc)
HOOK_TOKEN = "T0000/B0000/XXXXhooksecretXXXX"
BOT_TOKEN = "xoxb-1111-bot-token-secret"
SMTP_USER, SMTP_PASSWORD = "dteg", "smtp-pass-s3cret"
HEADER_TOKEN = "hdr-token-s3cret"
ERROR = "step `load` (orders.yaml:14): connection to warehouse refused"
SECRETS = (HOOK_TOKEN, BOT_TOKEN, SMTP_PASSWORD, HEADER_TOKEN)
ALERTS = TypeAdapter(list[Alert])


def failure(run_id: str = "run-1") -> AlertMessage:
    return AlertMessage(pipeline="orders", event="failure", run_id=run_id, status="failed",
                        error=ERROR, attempt=1, rows_read=1200, rows_loaded=0,
                        rows_dead_lettered=3, started_at=NOW, duration_s=42.0)


def assert_no_secrets(deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        for secret in SECRETS:
            assert secret not in repr(delivery), (secret, delivery)


# --- an HTTP receiver: Slack's webhook, Slack's Web API, any webhook --------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    url: str
    requests: list[Request] = field(default_factory=list)
    # path -> (HTTP status, body) for paths that do not answer 200 "ok".
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def on(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


class _Handler(BaseHTTPRequestHandler):
    receiver: HttpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.receiver.requests.append(Request(self.path, headers, json.loads(body)))
        status, answer = self.receiver.answers.get(self.path, (200, b"ok"))
        if self.path.endswith("/chat.postMessage"):
            # Slack's Web API answers 200 and says in the JSON whether it took the message.
            ok = headers.get("authorization") == f"Bearer {BOT_TOKEN}"
            answer = json.dumps({"ok": True, "ts": "1.2"} if ok else
                                {"ok": False, "error": "invalid_auth"}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.receiver = HttpReceiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler.receiver
    server.shutdown()
    server.server_close()
    thread.join()


# --- SMTP servers ---------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message
    over_starttls: bool


@dataclass
class Inbox:
    mails: list[Mail] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                               email.message_from_bytes(envelope.original_content),
                               over_starttls=session.ssl is not None))
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(), SMTP_PASSWORD.encode())
        return AuthResult(success=ok, handled=False)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 (the client trusts it through ca_file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return Certificate(folder / "cert.pem", folder / "key.pem")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox
    mechanism: str | None  # the one AUTH mechanism it offers


def _smtp(inbox: Inbox, mechanism: str | None = None, **options: Any
          ) -> Iterator[SmtpServer]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    yield SmtpServer(port, inbox, mechanism)
    controller.stop()


@pytest.fixture(params=["PLAIN", "LOGIN"])
def starttls_smtp(request: pytest.FixtureRequest, certificate: Certificate
                  ) -> Iterator[SmtpServer]:
    """STARTTLS required before AUTH, which is required before mail; one AUTH mechanism."""
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[request.param]
    inbox = Inbox()
    yield from _smtp(inbox, request.param, tls_context=certificate.server_context(),
                     require_starttls=True, auth_required=True,
                     authenticator=inbox.authenticate, auth_exclude_mechanism=[other])


@pytest.fixture
def smtps(certificate: Certificate) -> Iterator[SmtpServer]:
    """TLS from the first byte (SMTPS), AUTH required."""
    inbox = Inbox()
    yield from _smtp(inbox, "PLAIN", ssl_context=certificate.server_context(),
                     auth_required=True, auth_require_tls=False,
                     authenticator=inbox.authenticate, auth_exclude_mechanism=["LOGIN"])


@pytest.fixture
def relay() -> Iterator[SmtpServer]:
    """A plain relay without login (a local MTA on port 25)."""
    yield from _smtp(Inbox())


def email_alert(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {"type": "email", "to": ["ops@example.com", "data@example.com"],
            "from": "dteg@example.com", "smtp_host": "127.0.0.1", "smtp_port": server.port,
            "smtp_user": SMTP_USER, "smtp_password": SMTP_PASSWORD, **extra}


# --- the tests ------------------------------------------------------------------------


def test_a_failure_reaches_slack_and_email_once_per_throttle_interval(
        http: HttpReceiver, starttls_smtp: SmtpServer, certificate: Certificate) -> None:
    alerts = ALERTS.validate_python([
        {"type": "slack", "webhook_url": f"{http.url}/services/{HOOK_TOKEN}"},
        email_alert(starttls_smtp, starttls=True),
        {"type": "webhook", "url": f"{http.url}/hook", "on": ["success"]},  # not on failure
    ])
    history = MemoryAlertHistory()
    dispatcher = AlertDispatcher(history, AlertSettings(
        ca_file=str(certificate.cert), base_url="https://dteg.example.com/"))

    first = dispatcher.deliver(alerts, failure("run-1"), NOW)
    assert [(d.channel, d.status, d.error) for d in first] == [
        ("slack", "sent", None), ("email", "sent", None)]

    [slack] = http.requests
    assert slack.path == f"/services/{HOOK_TOKEN}"
    for text in ("orders", "run-1", "failure", "connection to warehouse refused", "1,200",
                 "https://dteg.example.com/runs/run-1"):
        assert text in json.dumps(slack.body), text
    assert "connection to warehouse refused" in slack.body["text"]

    [mail] = starttls_smtp.inbox.mails
    assert mail.over_starttls and starttls_smtp.inbox.mechanisms == [starttls_smtp.mechanism]
    assert (mail.sender, mail.recipients) == ("dteg@example.com",
                                             ["ops@example.com", "data@example.com"])
    assert mail.message["Subject"] == "[dteg] orders: run failed (run run-1)"
    body = mail.message.get_payload(decode=True).decode()
    assert ERROR in body and "dead-lettered 3" in body
    assert "https://dteg.example.com/runs/run-1" in body

    # Another failure five minutes later: recorded as throttled, nothing sent.
    second = dispatcher.deliver(alerts, failure("run-2"), NOW + dt.timedelta(minutes=5))
    assert [(d.channel, d.status) for d in second] == [("slack", "throttled"),
                                                       ("email", "throttled")]
    assert (len(http.requests), len(starttls_smtp.inbox.mails)) == (1, 1)

    # After the interval (15 minutes by default) the next failure is sent again.
    third = dispatcher.deliver(alerts, failure("run-3"), NOW + dt.timedelta(minutes=15))
    assert [d.status for d in third] == ["sent", "sent"]
    assert (len(http.requests), len(starttls_smtp.inbox.mails)) == (2, 2)
    assert "run-3" in http.requests[1].body["text"]
    assert [d.run_id for d in history.deliveries] == ["run-1"] * 2 + ["run-2"] * 2 + [
        "run-3"] * 2


def test_the_seed_alerts_are_sent_with_the_servers_environment(
        http: HttpReceiver, relay: SmtpServer) -> None:
    spec = compile_spec(REPO / "pipelines" / "seed_example.yaml", environ={})
    settings = AlertSettings.from_env({
        "DTEG_SLACK_WEBHOOK_URL": f"{http.url}/services/{HOOK_TOKEN}",
        "DTEG_SMTP_HOST": "127.0.0.1", "DTEG_SMTP_PORT": str(relay.port),
        "DTEG_SMTP_FROM": "alerts@company.com"})
    message = replace(failure(), pipeline=spec.name)
    deliveries = AlertDispatcher(MemoryAlertHistory(), settings).deliver(
        spec.body.monitoring.alerts, message, NOW)
    assert [(d.channel, d.status) for d in deliveries] == [("slack", "sent"), ("email", "sent")]
    [slack] = http.on(f"/services/{HOOK_TOKEN}")
    assert slack.body["channel"] == "#data-alerts" and ERROR in slack.body["text"]
    [mail] = relay.inbox.mails
    assert (mail.sender, mail.recipients) == ("alerts@company.com", ["data-team@company.com"])
    assert ERROR in mail.message.get_payload(decode=True).decode()


def test_a_bot_token_posts_with_chat_post_message(http: HttpReceiver) -> None:
    alerts = ALERTS.validate_python([{"type": "slack", "channel": "#data-alerts"}])
    settings = AlertSettings(slack_bot_token=SecretStr(BOT_TOKEN),
                             slack_api_base=f"{http.url}/api")
    [delivery] = AlertDispatcher(MemoryAlertHistory(), settings).deliver(
        alerts, failure(), NOW)
    assert (delivery.status, delivery.error) == ("sent", None)
    [post] = http.on("/api/chat.postMessage")
    assert post.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert post.headers["content-type"].startswith("application/json")
    assert post.body["channel"] == "#data-alerts"
    assert post.body["blocks"][0]["text"]["text"] == "orders: run failed"

    # A token Slack refuses: failed, with what to do and without the token.
    wrong = replace(settings, slack_bot_token=SecretStr("xoxb-wrong-token-secret"))
    [refused] = AlertDispatcher(MemoryAlertHistory(), wrong).deliver(alerts, failure(), NOW)
    assert refused.status == "failed"
    assert refused.error == ("Slack refused the message to #data-alerts: invalid_auth. "
                             "Check the bot token (xoxb-…).")


def test_a_webhook_gets_the_json_with_its_secret_headers(http: HttpReceiver) -> None:
    alerts = ALERTS.validate_python([{
        "type": "webhook", "url": f"{http.url}/hook", "on": ["failure", "recovered"],
        "headers": {"Authorization": f"Bearer {HEADER_TOKEN}", "X-Team": "data"}}])
    dispatcher = AlertDispatcher(MemoryAlertHistory(), AlertSettings())
    recovered = AlertMessage(pipeline="orders", event="recovered", run_id="run-9",
                             status="succeeded", rows_read=5, rows_loaded=5,
                             finished_at=NOW)
    [delivery] = dispatcher.deliver(alerts, recovered, NOW)
    assert delivery.status == "sent"
    [hook] = http.on("/hook")
    assert hook.headers["authorization"] == f"Bearer {HEADER_TOKEN}"
    assert hook.headers["x-team"] == "data"
    assert {k: hook.body[k] for k in ("source", "pipeline", "event", "run_id", "rows_loaded",
                                      "finished_at")} == {
        "source": "dteg", "pipeline": "orders", "event": "recovered", "run_id": "run-9",
        "rows_loaded": 5, "finished_at": "2024-05-01T06:00:00+00:00"}


def test_a_refusing_receiver_is_failed_and_is_tried_again_next_time(
        http: HttpReceiver) -> None:
    http.answers["/hook"] = (500, b"database is down")
    alerts = ALERTS.validate_python([{
        "type": "webhook", "url": f"{http.url}/hook",
        "headers": {"Authorization": f"Bearer {HEADER_TOKEN}"}}])
    dispatcher = AlertDispatcher(MemoryAlertHistory(), AlertSettings())
    [first] = dispatcher.deliver(alerts, failure(), NOW)
    assert first.status == "failed"
    assert first.error == (f"the webhook at {http.url} answered HTTP 500 Internal Server "
                           "Error: database is down")
    # A failed delivery does not count for the throttle: the next failure is tried.
    [second] = dispatcher.deliver(alerts, failure(), NOW + dt.timedelta(minutes=1))
    assert second.status == "failed" and len(http.on("/hook")) == 2


def test_dead_receivers_are_recorded_as_failed_and_never_raise() -> None:
    dead = free_port()  # bound, then closed: nothing listens there
    alerts = ALERTS.validate_python([
        {"type": "slack", "webhook_url": f"http://127.0.0.1:{dead}/services/{HOOK_TOKEN}"},
        {"type": "webhook", "url": f"http://127.0.0.1:{dead}/hook",
         "headers": {"Authorization": f"Bearer {HEADER_TOKEN}"}},
        {"type": "email", "to": ["ops@example.com"], "smtp_host": "127.0.0.1",
         "smtp_port": dead, "starttls": True, "smtp_user": SMTP_USER,
         "smtp_password": SMTP_PASSWORD},
    ])
    history = MemoryAlertHistory()
    deliveries = AlertDispatcher(history, AlertSettings()).deliver(alerts, failure(), NOW)
    assert [d.status for d in deliveries] == ["failed"] * 3
    slack, hook, mail = (d.error or "" for d in deliveries)
    assert slack.startswith(f"could not reach the Slack webhook at http://127.0.0.1:{dead}: ")
    assert "Connection refused" in slack and "services" not in slack
    assert hook.startswith(f"could not reach the webhook at http://127.0.0.1:{dead}: ")
    assert mail.startswith(f"could not send the e-mail through the SMTP server 127.0.0.1:"
                           f"{dead} (starttls): ConnectionRefusedError")
    assert all("\n" not in e for e in (slack, hook, mail))
    assert list(history.deliveries) == deliveries
    assert_no_secrets(deliveries)


def test_a_receiver_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/services/{HOOK_TOKEN}"
        alerts = ALERTS.validate_python([{"type": "slack", "webhook_url": url}])
        [delivery] = AlertDispatcher(MemoryAlertHistory(), AlertSettings(timeout_s=0.3)
                                     ).deliver(alerts, failure(), NOW)
    assert delivery.status == "failed"
    assert "timed out" in (delivery.error or "") and HOOK_TOKEN not in (delivery.error or "")


# aiosmtpd warns about AUTH without STARTTLS, which SMTPS does not need.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtps_delivers_over_tls_from_the_start(smtps: SmtpServer,
                                                certificate: Certificate) -> None:
    alerts = ALERTS.validate_python([email_alert(smtps, ssl=True)])
    [delivery] = AlertDispatcher(MemoryAlertHistory(), AlertSettings(
        ca_file=str(certificate.cert))).deliver(alerts, failure(), NOW)
    assert (delivery.status, delivery.error) == ("sent", None)
    [mail] = smtps.inbox.mails
    assert smtps.inbox.mechanisms == ["PLAIN"]
    assert ERROR in mail.message.get_payload(decode=True).decode()


def test_smtp_login_and_certificate_problems_say_what_to_do(
        starttls_smtp: SmtpServer, certificate: Certificate) -> None:
    wrong = ALERTS.validate_python([email_alert(
        starttls_smtp, starttls=True, smtp_password="wrong-pass-s3cret")])
    trusted = AlertSettings(ca_file=str(certificate.cert))
    [refused] = AlertDispatcher(MemoryAlertHistory(), trusted).deliver(wrong, failure(), NOW)
    assert refused.status == "failed" and "wrong-pass-s3cret" not in (refused.error or "")
    assert (refused.error or "").startswith(
        f"the SMTP server 127.0.0.1:{starttls_smtp.port} refused the login of dteg: 535")
    assert "Check `smtp_user` and `smtp_password`" in (refused.error or "")

    # The system's CAs do not know the self-signed certificate.
    alerts = ALERTS.validate_python([email_alert(starttls_smtp, starttls=True)])
    [untrusted] = AlertDispatcher(MemoryAlertHistory(), AlertSettings()).deliver(
        alerts, failure(), NOW)
    assert untrusted.status == "failed"
    assert "could not verify the TLS certificate of the SMTP server" in (untrusted.error or "")
    assert "AlertSettings.ca_file" in (untrusted.error or "")
    assert starttls_smtp.inbox.mails == []
    assert_no_secrets([refused, untrusted])
