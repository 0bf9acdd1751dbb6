"""The RSA keys that sign access tokens (RS256). The newest key signs; retired keys stay in
the JWKS (``/.well-known/jwks.json``) until every token they signed has expired, so a
rotation never signs anyone out."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import Engine, insert, select, update

from dteg.auth.reading import reading
from dteg.auth.schema import signing_keys

ALGORITHM = "RS256"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Any  # cryptography's RSAPrivateKey
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None


def _new_key(now: datetime) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = secrets.token_hex(8)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return SigningKey(kid, private, jwk, now, None)


class KeyRing:
    """The signing keys in the store, cached; safe across threads and processes (a key made
    by another process is found on the next miss)."""

    def __init__(self, engine: Engine, token_ttl: timedelta) -> None:
        self.engine = engine
        self.token_ttl = token_ttl
        self._keys: dict[str, SigningKey] = {}
        self._lock = threading.Lock()

    def _load(self) -> None:
        with reading(self.engine) as connection:
            rows = connection.execute(select(signing_keys)).mappings().all()
        keys = {}
        for row in rows:
            private = serialization.load_pem_private_key(row["private_pem"].encode(), None)
            keys[row["kid"]] = SigningKey(row["kid"], private, dict(row["public_jwk"]),
                                          row["created_at"], row["retired_at"])
        self._keys = keys

    def _save(self, key: SigningKey) -> None:
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        with self.engine.begin() as tx:
            tx.execute(insert(signing_keys).values(kid=key.kid, private_pem=pem,
                                                   public_jwk=key.public_jwk,
                                                   created_at=key.created_at))

    def active(self, now: datetime) -> SigningKey:
        with self._lock:
            current = self._current()
            if current is None:
                self._load()
                current = self._current()
            if current is None:
                self._save(_new_key(now))
                self._load()
                current = self._current()
            assert current is not None
            return current

    def _current(self) -> SigningKey | None:
        live = [k for k in self._keys.values() if k.retired_at is None]
        return max(live, key=lambda k: k.created_at) if live else None

    def get(self, kid: str) -> SigningKey | None:
        with self._lock:
            if kid not in self._keys:
                self._load()
            return self._keys.get(kid)

    def rotate(self, now: datetime) -> SigningKey:
        """A new signing key; the old ones retire (and keep verifying until they expire)."""
        with self._lock:
            with self.engine.begin() as tx:
                tx.execute(update(signing_keys).where(signing_keys.c.retired_at.is_(None))
                           .values(retired_at=now))
            key = _new_key(now)
            self._save(key)
            self._load()
            return key

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The public keys that may still have signed a valid token."""
        self.active(now)
        with self._lock:
            self._load()
            keys = [k.public_jwk for k in self._keys.values()
                    if k.retired_at is None or now - k.retired_at < self.token_ttl]
        return {"keys": keys}
