"""Refresh tokens: opaque, stored hashed, rotated on every use. A refresh token used twice
means it was stolen: every token of that login (its family) is revoked."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from dteg.auth.schema import refresh_tokens


@dataclass(frozen=True)
class Refreshed:
    user_id: str
    token: str  # the new refresh token


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class RefreshTokens:
    def __init__(self, engine: Engine, ttl: timedelta) -> None:
        self.engine = engine
        self.ttl = ttl

    def issue(self, user_id: str, now: datetime, family: str | None = None) -> str:
        rid, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.engine.begin() as tx:
            tx.execute(insert(refresh_tokens).values(
                id=rid, secret_sha256=_digest(secret), user_id=user_id,
                family=family or rid, created_at=now, expires_at=now + self.ttl))
        return f"{rid}.{secret}"

    def rotate(self, token: str, now: datetime) -> Refreshed | None:
        try:
            rid, secret = token.split(".", 1)
        except ValueError:
            return None
        with self.engine.begin() as tx:
            row = tx.execute(select(refresh_tokens).where(refresh_tokens.c.id == rid)
                             ).mappings().first()
            if row is None or not hmac.compare_digest(row["secret_sha256"], _digest(secret)):
                return None
            if row["used_at"] is not None or row["revoked_at"] is not None:
                tx.execute(update(refresh_tokens).where(
                    refresh_tokens.c.family == row["family"]).values(revoked_at=now))
                return None
            if now >= row["expires_at"]:
                return None
            tx.execute(update(refresh_tokens).where(refresh_tokens.c.id == rid)
                       .values(used_at=now))
        return Refreshed(str(row["user_id"]), self.issue(str(row["user_id"]), now,
                                                         str(row["family"])))

    def revoke(self, token: str, now: datetime) -> None:
        rid = token.split(".", 1)[0]
        with self.engine.begin() as tx:
            family = tx.execute(select(refresh_tokens.c.family).where(
                refresh_tokens.c.id == rid)).scalar()
            if family is not None:
                tx.execute(update(refresh_tokens).where(refresh_tokens.c.family == family)
                           .values(revoked_at=now))

    def revoke_user(self, user_id: str, now: datetime) -> None:
        with self.engine.begin() as tx:
            tx.execute(update(refresh_tokens).where(refresh_tokens.c.user_id == user_id)
                       .values(revoked_at=now))
