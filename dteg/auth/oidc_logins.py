"""Sign-ins under way at the provider: ``state`` → nonce, PKCE verifier, redirect URI and the
page to return to, in the store so that any process of the server can take the callback.
Each is taken once (deleted as it is read), expires after ten minutes, and is bound to the
browser that started it (an HttpOnly cookie whose sha256 is kept): a callback URL carried to
another browser — the login-CSRF trick of signing someone in as the attacker — is refused."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from dteg.auth.schema import oidc_logins

TTL = timedelta(minutes=10)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    return_to: str
    created_at: datetime


class PendingLogins:
    def __init__(self, engine: Engine, ttl: timedelta = TTL) -> None:
        self.engine, self.ttl = engine, ttl

    def begin(self, browser: str, code_verifier: str, redirect_uri: str, return_to: str,
              now: datetime) -> PendingLogin:
        pending = PendingLogin(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                               code_verifier, redirect_uri, return_to, now)
        with self.engine.begin() as tx:
            tx.execute(delete(oidc_logins).where(oidc_logins.c.created_at < now - self.ttl))
            tx.execute(insert(oidc_logins).values(
                state_sha256=_sha(pending.state), browser_sha256=_sha(browser),
                nonce=pending.nonce, code_verifier=code_verifier, redirect_uri=redirect_uri,
                return_to=return_to, created_at=now))
        return pending

    def take(self, state: str, browser: str | None, now: datetime
             ) -> tuple[PendingLogin | None, str]:
        """The pending login of ``state`` (now spent), or None and why not."""
        key = _sha(state)
        with self.engine.begin() as tx:
            row = tx.execute(select(oidc_logins).where(
                oidc_logins.c.state_sha256 == key)).mappings().first()
            # Deleted whatever comes next: a state is tried once. A concurrent taker that
            # read the row too deletes nothing and is refused below.
            taken = tx.execute(delete(oidc_logins).where(
                oidc_logins.c.state_sha256 == key)).rowcount
        if row is None or not taken:
            return None, "this sign-in was already used or never started here"
        if now - row["created_at"] > self.ttl:
            return None, "this sign-in took longer than ten minutes and expired"
        if browser is None or not hmac.compare_digest(_sha(browser), row["browser_sha256"]):
            return None, "this sign-in was started in another browser"
        return PendingLogin(state, row["nonce"], row["code_verifier"], row["redirect_uri"],
                            row["return_to"], row["created_at"]), ""
