"""Retries with exponential backoff for the cloud writers (object stores, Snowflake, BigQuery).

Only transient failures are retried: a refused, reset or timed-out connection, HTTP 5xx, 429
and the throttling codes each service uses. Anything else (bad credentials, a missing bucket,
a SQL error) fails at once, so a wrong setting never hangs a run. Callers retry only
operations that are idempotent (an upload to a fixed key, a copy, a delete, a load of a file
the service remembers), so a retry never doubles rows.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from dteg.errors import ConnectorError

T = TypeVar("T")
log = logging.getLogger("dteg.retry")

# Error codes (AWS, GCP, Snowflake HTTP) that mean "try again later".
_TRANSIENT_CODES = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
    "InternalError", "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequests",
    "rateLimitExceeded", "backendError", "internalError",
}
# Exception classes (by name, so no client library must be imported here) that are transient.
_TRANSIENT_CLASSES = {
    "EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError",
    "ReadTimeoutError", "ProxyConnectionError", "ConnectionError", "ConnectionResetError",
    "ConnectionRefusedError", "ConnectionAbortedError", "BrokenPipeError", "TimeoutError",
    "IncompleteReadError", "ResponseStreamingError", "ProtocolError", "RemoteDisconnected",
    "ChunkedEncodingError", "ServerError", "InternalServerError", "BadGateway",
    "ServiceUnavailable", "GatewayTimeout", "TooManyRequests", "RetryError",
}


class RetrySettings(BaseModel):
    """How often and how long to retry a transient failure."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=8, ge=1, le=100, description="Tries in all (1: no retry)")
    initial_seconds: float = Field(default=0.5, ge=0, description="First wait")
    max_seconds: float = Field(default=15.0, ge=0, description="Longest single wait")
    deadline_seconds: float = Field(
        default=180.0, gt=0, description="Give up once this much time has passed in all")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, if any (botocore, google-api-core, requests)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status else None
    for attr in ("code", "status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """True for failures that may go away by themselves."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectorError):
            return current.retriable
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & _TRANSIENT_CLASSES:
            return True
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code in _TRANSIENT_CODES:
                return True
        status = status_of(current)
        if status is not None and (status >= 500 or status == 429):
            return True
        current = current.__cause__ or current.__context__
    return False


def call(fn: Callable[[], T], *, what: str, settings: RetrySettings | None = None,
         step: str | None = None, transient: Callable[[BaseException], bool] = is_transient,
         sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``fn``; on a transient failure wait (exponential backoff with jitter) and try
    again, up to ``settings.attempts`` tries and ``settings.deadline_seconds``. The final
    failure becomes a ``ConnectorError`` (``retriable=True``) that names ``what``."""
    settings = settings or RetrySettings()
    started = time.monotonic()
    delay = settings.initial_seconds
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as exc:
            if not transient(exc):
                raise
            elapsed = time.monotonic() - started
            wait = min(delay, settings.max_seconds) * random.uniform(0.75, 1.25)
            if attempt >= settings.attempts or elapsed + wait > settings.deadline_seconds:
                raise ConnectorError(
                    f"{what} failed after {attempt} tries in {elapsed:.0f} s: "
                    f"{type(exc).__name__}: {_first_line(exc)}", step=step, retriable=True,
                    hint="The service did not answer or was busy; check that it is up and "
                    "reachable, then run again (raise `retry.attempts` or "
                    "`retry.deadline_seconds` to wait longer).",
                ) from exc
            log.warning("%s: %s (try %d of %d); retrying in %.1f s", what,
                        _first_line(exc), attempt, settings.attempts, wait)
            sleep(wait)
            delay = max(delay * 2, 0.1)
            attempt += 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
