"""API tokens for service accounts and scripts: ``dteg_<id>_<secret>``, shown once, stored
as the sha256 of the secret, with their own role bindings, an optional expiry, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from dteg.auth.reading import Generation, reading, writing
from dteg.auth.schema import api_tokens

PREFIX = "dteg_"


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_api_token(credential: str) -> bool:
    return credential.startswith(PREFIX) and credential.count("_") >= 2


class ApiTokens:
    def __init__(self, engine: Engine, generation: Generation | None = None) -> None:
        self.engine = engine
        self.generation = generation or Generation()

    def create(self, name: str, created_by: str, now: datetime,
               expires_at: datetime | None = None) -> tuple[ApiToken, str]:
        """The token and its plaintext (shown once; only its hash is kept)."""
        tid, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with writing(self.engine, self.generation) as tx:
            tx.execute(insert(api_tokens).values(
                id=tid, name=name, secret_sha256=_digest(secret), created_by=created_by,
                created_at=now, expires_at=expires_at))
        token = self.get(tid)
        assert token is not None
        return token, f"{PREFIX}{tid}_{secret}"

    def get(self, tid: str) -> ApiToken | None:
        with reading(self.engine) as connection:
            row = connection.execute(select(api_tokens).where(api_tokens.c.id == tid)
                                     ).mappings().first()
        if row is None:
            return None
        return ApiToken(**{k: row[k] for k in ApiToken.__dataclass_fields__})

    def list(self) -> list[ApiToken]:
        with reading(self.engine) as connection:
            rows = connection.execute(select(api_tokens).order_by(api_tokens.c.created_at)
                                      ).mappings().all()
        return [ApiToken(**{k: r[k] for k in ApiToken.__dataclass_fields__}) for r in rows]

    def resolve(self, credential: str, now: datetime) -> tuple[ApiToken | None, str]:
        """The token a plaintext names, if it is ours, unrevoked and unexpired; else None
        and why."""
        try:
            tid, secret = credential[len(PREFIX):].split("_", 1)
        except ValueError:
            return None, "not an API token"
        with reading(self.engine) as connection:
            row = connection.execute(select(api_tokens).where(api_tokens.c.id == tid)
                                     ).mappings().first()
        if row is None or not hmac.compare_digest(row["secret_sha256"], _digest(secret)):
            return None, "unknown API token"
        token = ApiToken(**{k: row[k] for k in ApiToken.__dataclass_fields__})
        if token.revoked_at is not None:
            return None, "the API token was revoked"
        if token.expires_at is not None and now >= token.expires_at:
            return None, "the API token has expired"
        if token.last_used is None or (now - token.last_used).total_seconds() > 60:
            with self.engine.begin() as tx:
                tx.execute(update(api_tokens).where(api_tokens.c.id == tid)
                           .values(last_used=now))
        return token, ""

    def revoke(self, tid: str, now: datetime) -> bool:
        with writing(self.engine, self.generation) as tx:
            return bool(tx.execute(update(api_tokens).where(
                api_tokens.c.id == tid, api_tokens.c.revoked_at.is_(None)).values(
                revoked_at=now)).rowcount)
