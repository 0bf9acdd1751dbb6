"""Password hashes: argon2id (OWASP's first choice), parameters from argon2-cffi's defaults;
a hash made with older parameters is re-made on the next successful login."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
# Verified when a user does not exist, so a wrong name costs what a wrong password does.
_DUMMY = _HASHER.hash("not a password of anyone")

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def weak_reason(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(set(password)) < 5:
        return "a password needs more than four different characters"
    return None
