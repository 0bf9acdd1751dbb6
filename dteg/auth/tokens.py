"""Access tokens: short-lived JWTs signed RS256 by the key ring, checked strictly — RS256
only (``alg: none`` and HS256 made with the public key are refused before any signature
check), a known key id, issuer, audience, expiry and not-before, and every claim required."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from dteg.auth.keys import ALGORITHM, KeyRing

LEEWAY = timedelta(seconds=5)
REQUIRED = ["exp", "iat", "nbf", "sub", "iss", "aud", "jti", "typ"]


class TokenError(Exception):
    """Why a token is refused (said in the 401, never with the token)."""


@dataclass(frozen=True)
class AccessClaims:
    subject: str  # user:<id>
    jti: str
    expires_at: datetime
    raw: dict[str, Any]


@dataclass(frozen=True)
class TokenIssuer:
    ring: KeyRing
    issuer: str
    audience: str
    ttl: timedelta

    def issue(self, subject: str, now: datetime, extra: dict[str, Any] | None = None) -> str:
        key = self.ring.active(now)
        claims = {"iss": self.issuer, "aud": self.audience, "sub": subject,
                  "iat": int(now.timestamp()), "nbf": int(now.timestamp()),
                  "exp": int((now + self.ttl).timestamp()), "jti": secrets.token_hex(12),
                  "typ": "access", **(extra or {})}
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM,
                          headers={"kid": key.kid})

    def verify(self, token: str, now: datetime) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError(f"not a JWT ({exc})") from None
        if header.get("alg") != ALGORITHM:
            raise TokenError(f"tokens must be signed {ALGORITHM}, not {header.get('alg')!r}")
        key = self.ring.get(str(header.get("kid", "")))
        if key is None:
            raise TokenError("signed by a key this server does not know")
        if key.retired_at is not None and now - key.retired_at > self.ttl + LEEWAY:
            raise TokenError("signed by a key retired too long ago")
        try:
            # Times are checked below against this service's clock (PyJWT reads the wall's).
            claims = jwt.decode(
                token, key.private_key.public_key(), algorithms=[ALGORITHM],
                audience=self.audience, issuer=self.issuer,
                options={"require": REQUIRED, "verify_iat": False, "verify_exp": False,
                         "verify_nbf": False})
        except jwt.InvalidAudienceError:
            raise TokenError("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenError("the token is from another issuer") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"the token is not valid ({exc})") from None
        if claims.get("typ") != "access":
            raise TokenError("not an access token")
        try:
            exp = datetime.fromtimestamp(int(claims["exp"]), tz=timezone.utc)
            nbf = datetime.fromtimestamp(int(claims["nbf"]), tz=timezone.utc)
        except (TypeError, ValueError):
            raise TokenError("the token's times are not numbers") from None
        if now >= exp + LEEWAY:
            raise TokenError("the token has expired: sign in again or refresh it")
        if now < nbf - LEEWAY:
            raise TokenError("the token is not valid yet")
        return AccessClaims(str(claims["sub"]), str(claims["jti"]), exp, claims)
