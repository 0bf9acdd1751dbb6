"""Keep secret values out of everything dteg prints."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MASK = "***"
# Values this short are too likely to collide with ordinary text ("1", "yes") to redact.
_MIN_SECRET_LENGTH = 4


@dataclass
class Redactor:
    """Replaces every known secret value in text with ``***``."""

    values: set[str] = field(default_factory=set)

    def add(self, value: str) -> None:
        if len(value) >= _MIN_SECRET_LENGTH:
            self.values.add(value)

    def __call__(self, text: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return redact_url_passwords(text)


_SECRET_NAME = re.compile(
    r"pass|secret|token|key|credential|auth|pwd|private|dsn|url|uri|conn", re.IGNORECASE
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)(?=@)")


def looks_secret(name: str) -> bool:
    """True for names like DB_PASSWORD, API_TOKEN, PG_URL: values to keep out of output."""
    return bool(_SECRET_NAME.search(name))


def redact_url_passwords(text: str) -> str:
    """``postgres://user:pw@host`` → ``postgres://user:***@host``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
