"""One HTTP exchange of the REST source, with the rules that keep a run safe for the API:
a requests/s ceiling, ``429``/``503`` waits for ``Retry-After``, backoff on 5xx, timeouts and
refused connections (``dteg.connectors.retry``), one token refresh on a 401, and messages
that never show a secret. ``requests`` is imported when the first request is sent."""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass
from typing import Any

from dteg.connectors import retry
from dteg.connectors.http.auth import Credentials
from dteg.connectors.http.config import SourceConfig
from dteg.errors import ConnectorError


@dataclass
class Response:
    """What the reader needs from an answer."""

    url: str  # as sent, secrets removed
    status: int
    headers: dict[str, str]
    text: str
    links: dict[str, str]  # rel → URL from the `Link` header


class _Retryable(Exception):
    """A transient answer (5xx, 429): ``retry.call`` tries again after ``retry_after``."""

    def __init__(self, message: str, status: int, retry_after: float | None) -> None:
        super().__init__(message)
        self.status_code = status
        self.retry_after = retry_after


class _Pacer:
    """At most ``rate`` requests per second (evenly spaced), shared by the reader's threads."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class HttpClient:
    """Sends the source's requests. Not picklable state: built on the worker, per reader."""

    def __init__(self, config: SourceConfig, step: str) -> None:
        self.config = config
        self.step = step
        self.credentials = Credentials(config.auth, step)
        self.pacer = _Pacer(config.max_requests_per_second)
        self.requests_sent = 0
        self._session: Any = None
        self._secrets = config.secrets()

    def scrub(self, text: str) -> str:
        """``text`` without any secret value of the config."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.verify = self.config.verify_tls
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def send(self, url: str, params: dict[str, Any], body: dict[str, Any] | None,
             what: str) -> Response:
        """One request, retried while the failure is transient; a refusal (4xx) or the
        last failure raises a ``ConnectorError`` naming ``what`` and the URL (scrubbed)."""
        wait_for: list[float] = []

        def sleep(backoff: float) -> None:
            # A server's Retry-After wins over our own backoff when it is longer.
            time.sleep(max(backoff, wait_for.pop()) if wait_for else backoff)

        def attempt() -> Response:
            try:
                return self._once(url, params, body, refresh=self.credentials.refreshable)
            except _Retryable as exc:
                if exc.retry_after is not None:
                    wait_for.append(min(exc.retry_after, self.config.max_retry_after_seconds))
                raise
            except ConnectorError:
                raise
            except Exception as exc:
                # The client's own text may hold the URL with an API key in its query:
                # only a scrubbed sentence goes on (to the retry log and the error).
                text = self.scrub(f"{type(exc).__name__}: {_first_line(exc)}")
                if _transient(exc):
                    raise _Retryable(text, 0, None) from None
                raise ConnectorError(f"{what} failed: {text}", step=self.step,
                                     hint="Check `url:` and that the API is reachable."
                                     ) from None

        def transient(exc: BaseException) -> bool:
            return isinstance(exc, _Retryable) or retry.is_transient(exc)

        return retry.call(attempt, what=what, settings=self.config.retry, step=self.step,
                          sleep=sleep, transient=transient)

    def _once(self, url: str, params: dict[str, Any], body: dict[str, Any] | None, *,
              refresh: bool) -> Response:
        session = self.session()
        headers = dict(self.config.headers)
        sent_params = dict(params)
        timeout = self.config.timeout_seconds
        self.credentials.apply(session, headers, sent_params, timeout)
        self.pacer.wait()
        self.requests_sent += 1
        answer = session.request(self.config.method, url, params=sent_params or None,
                                 json=body if self.config.method == "POST" else None,
                                 headers=headers, timeout=timeout)
        shown = self.scrub(answer.url)
        status = answer.status_code
        if status == 401 and refresh:
            self.credentials.invalidate()  # an expired or revoked token: fetch one more
            return self._once(url, params, body, refresh=False)
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status} from {shown}", status,
                             _retry_after(answer.headers.get("Retry-After")))
        if status >= 400:
            raise _refused(status, shown, answer.text, self.step, self.scrub)
        links = {rel: link["url"] for rel, link in (answer.links or {}).items() if "url" in link}
        return Response(shown, status, dict(answer.headers), answer.text, links)


def _transient(exc: BaseException) -> bool:
    """Retry's rules, plus any client timeout (requests' ReadTimeout names no base we list)."""
    return retry.is_transient(exc) or any("Timeout" in c.__name__ for c in type(exc).__mro__)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _refused(status: int, url: str, text: str, step: str, scrub: Any) -> ConnectorError:
    detail = scrub(" ".join(text.split())[:200])
    if status in (401, 403):
        return ConnectorError(
            f"the API refused the credentials (HTTP {status}) for {url}: {detail}", step=step,
            hint="Check `auth:` (the token, key or client secret, and its scopes); secrets "
            "come from ${env:…} or ${file:…}.")
    if status == 404:
        return ConnectorError(f"the API has nothing at {url} (HTTP 404)", step=step,
                              hint="Check `url:` and `params:`.")
    return ConnectorError(f"the API rejected the request to {url} (HTTP {status}): {detail}",
                          step=step, hint="Check `params:`, `body:` and `headers:` against "
                          "the API's documentation.")
