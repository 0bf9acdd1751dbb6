"""Access control as the server uses it: sign in, refresh, sign out, who a credential is,
the first admin, and the audit log. One ``AuthService`` per server process."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine

from dteg.auth import migrate
from dteg.auth.accounts import AccountError, Accounts, User
from dteg.auth.api_tokens import ApiTokens, looks_like_api_token
from dteg.auth.audit import AuditLog
from dteg.auth.keys import KeyRing
from dteg.auth.oidc import Identity, OidcClient
from dteg.auth.oidc_logins import PendingLogins
from dteg.auth.passwords import generate_password, needs_rehash, verify_password
from dteg.auth.rbac import Binding, Principal, Roles
from dteg.auth.reading import Generation
from dteg.auth.sessions import RefreshTokens
from dteg.auth.settings import AuthSettings, GroupRole
from dteg.auth.throttle import LoginThrottle
from dteg.auth.tokens import TokenError, TokenIssuer

# How long an identified credential is reused (see ``AuthService.identify``).
IDENTITY_TTL_S = 1.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AuthError(Exception):
    """Why a request is not signed in (the 401's message)."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


@dataclass(frozen=True)
class LoginOutcome:
    tokens: TokenPair | None
    reason: str = ""
    retry_after_s: float = 0.0


class AuthService:
    def __init__(self, engine: Engine, settings: AuthSettings,
                 clock: Callable[[], datetime] = utcnow) -> None:
        migrate.upgrade(engine)
        self.engine, self.settings, self.clock = engine, settings, clock
        self.generation = Generation()
        self.accounts = Accounts(engine, self.generation)
        self.api_tokens = ApiTokens(engine, self.generation)
        # credential digest → (monotonic deadline, generation, valid until, principal, roles)
        self._identified: dict[str, tuple[float, int, datetime | None, Principal, Roles]] = {}
        self.keys = KeyRing(engine, settings.access_ttl)
        self.issuer = TokenIssuer(self.keys, settings.issuer, settings.audience,
                                  settings.access_ttl)
        self.refresh_tokens = RefreshTokens(engine, settings.refresh_ttl)
        self.throttle = LoginThrottle(engine)
        self.audit = AuditLog(engine)
        self.oidc = OidcClient(settings.oidc, clock) if settings.oidc is not None else None
        self.pending_logins = PendingLogins(engine)

    # --- the first start ---------------------------------------------------------------

    def bootstrap(self, say: Callable[[str], None]) -> None:
        """Without any user: create `admin` (password from DTEG_ADMIN_PASSWORD, else a
        generated one printed once)."""
        if self.accounts.users():
            return
        now = self.clock()
        password = self.settings.admin_password or generate_password()
        try:
            user = self.accounts.create_user("admin", now, password)
        except Exception:  # another process of this server made it first
            return
        self.accounts.set_bindings(f"user:{user.id}", [Binding("admin", "*")])
        self.audit.append(actor="dteg", action="users.create", resource="user:admin",
                          result="succeeded", at=now, detail={"first_start": True})
        if self.settings.admin_password is None:
            say(f"created user `admin` with password {password} — shown once; change it "
                "with `dteg users passwd admin` (or set DTEG_ADMIN_PASSWORD before the first "
                "start)")
        else:
            say("created user `admin` with the password from DTEG_ADMIN_PASSWORD")

    # --- signing in ----------------------------------------------------------------------

    def login(self, username: str, password: str, address: str) -> LoginOutcome:
        now = self.clock()
        verdict = self.throttle.check(username, address, now)
        if not verdict.allowed:
            self._audit_login(username, address, "denied", verdict.reason)
            return LoginOutcome(None, verdict.reason, verdict.retry_after_s)
        user = self.accounts.user_by_name(username)
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or user.disabled:
            self.throttle.failed(username, address, now)
            self._audit_login(username, address, "failed", "wrong user name or password"
                              if not (user and user.disabled) else "disabled user")
            return LoginOutcome(None, "wrong user name or password")
        self.throttle.succeeded(username)
        if user.password_hash and needs_rehash(user.password_hash):
            self.accounts.set_password(user.id, password)
        self._audit_login(username, address, "succeeded", None)
        return LoginOutcome(self.issue(user))

    def _audit_login(self, username: str, address: str, result: str,
                     reason: str | None, detail: dict[str, object] | None = None) -> None:
        extra = {**({"reason": reason} if reason else {}), **(detail or {})}
        self.audit.append(actor=f"user:{username}", action="auth.login",
                          resource=f"user:{username}", result=result, at=self.clock(),
                          address=address, detail=extra or None)

    # --- single sign-on (OIDC) -----------------------------------------------------------

    def sso_failed(self, username: str | None, address: str, reason: str) -> None:
        """Audits a sign-in through the provider that did not get as far as a user."""
        self._audit_login(username or "anonymous", address, "failed", reason,
                          {"method": "oidc"})

    def login_oidc(self, identity: Identity, address: str) -> LoginOutcome:
        """Signs in the user the provider vouched for: made on the first login (source
        ``oidc``, no password), its groups updated on every one. The roles come from the
        ``group:<name>`` bindings of DTEG_OIDC_GROUP_ROLES, written here, so a change of
        groups at the provider counts from the next login; a user in no mapped group gets
        no role."""
        assert self.settings.oidc is not None
        now = self.clock()
        detail: dict[str, object] = {"method": "oidc", "subject": identity.subject,
                                     "groups": list(identity.groups)}
        user = self.accounts.user_by_external_id(identity.external_id)
        if user is None:
            taken = self.accounts.user_by_name(identity.username)
            if taken is not None:
                why = (f"a user `{identity.username}` exists already and is not this "
                       "provider's account")
                self._audit_login(identity.username, address, "failed", why, detail)
                return LoginOutcome(None, why)
            try:
                user = self.accounts.create_user(identity.username, now, source="oidc",
                                                 groups=identity.groups,
                                                 external_id=identity.external_id)
            except Exception:  # another process made it first (the name is unique)
                user = self.accounts.user_by_external_id(identity.external_id)
                if user is None:
                    raise
            else:
                self.audit.append(actor="dteg", action="users.create",
                                  resource=f"user:{user.name}", result="succeeded", at=now,
                                  address=address, detail={"source": "oidc"})
        if user.disabled:
            self._audit_login(user.name, address, "failed", "disabled user", detail)
            return LoginOutcome(None, "this user is disabled in dteg")
        if user.groups != identity.groups:
            self.accounts.set_groups(user.id, identity.groups)
        try:
            self._bind_groups(self.settings.oidc.group_roles)
        except AccountError as exc:
            why = f"DTEG_OIDC_GROUP_ROLES: {exc}"
            self._audit_login(user.name, address, "failed", why, detail)
            return LoginOutcome(None, why)
        user = self.accounts.user(user.id) or user
        self._audit_login(user.name, address, "succeeded", None, detail)
        return LoginOutcome(self.issue(user))

    def _bind_groups(self, mapping: tuple[GroupRole, ...]) -> None:
        wanted: dict[str, list[Binding]] = {}
        for entry in mapping:
            wanted.setdefault(entry.group, []).append(Binding(entry.role, entry.scope))
        for group, found in wanted.items():
            if set(self.accounts.bindings_of([f"group:{group}"])) != set(found):
                self.accounts.set_bindings(f"group:{group}", found)

    def issue(self, user: User) -> TokenPair:
        now = self.clock()
        self.accounts.logged_in(user.id, now)
        return TokenPair(self.issuer.issue(f"user:{user.id}", now),
                         self.refresh_tokens.issue(user.id, now),
                         int(self.settings.access_ttl.total_seconds()), user)

    def refresh(self, token: str) -> TokenPair | None:
        now = self.clock()
        rotated = self.refresh_tokens.rotate(token, now)
        if rotated is None:
            return None
        user = self.accounts.user(rotated.user_id)
        if user is None or user.disabled:
            return None
        return TokenPair(self.issuer.issue(f"user:{user.id}", now), rotated.token,
                         int(self.settings.access_ttl.total_seconds()), user)

    def logout(self, refresh_token: str) -> None:
        self.refresh_tokens.revoke(refresh_token, self.clock())

    # --- who is asking -------------------------------------------------------------------

    def roles(self) -> Roles:
        return self.accounts.roles()

    def principal_of(self, user: User) -> Principal:
        subjects = [f"user:{user.id}", *(f"group:{g}" for g in user.groups)]
        return Principal("user", user.id, user.name, self.accounts.bindings_of(subjects),
                         user.groups)

    def authenticate(self, credential: str) -> Principal:
        """The principal a bearer credential (an access token or an API token) stands for;
        AuthError says why not."""
        return self.identify(credential)[0]

    def identify(self, credential: str) -> tuple[Principal, Roles]:
        """``authenticate``, with the roles its decisions need. Kept for ``IDENTITY_TTL_S``:
        a change made through this process (a revoked token, a deleted user, new roles)
        counts at once, one made by another server process within that second."""
        key = hashlib.sha256(credential.encode()).hexdigest()
        cached = self._identified.get(key)
        tick = time.monotonic()
        if cached is not None and cached[0] > tick and cached[1] == self.generation.value and (
                cached[2] is None or self.clock() < cached[2]):
            return cached[3], cached[4]
        generation = self.generation.value
        principal, roles, valid_until = self._identify(credential)
        if len(self._identified) > 10_000:
            self._identified.clear()
        self._identified[key] = (tick + IDENTITY_TTL_S, generation, valid_until, principal,
                                 roles)
        return principal, roles

    def _identify(self, credential: str) -> tuple[Principal, Roles, datetime | None]:
        now = self.clock()
        if looks_like_api_token(credential):
            token, why = self.api_tokens.resolve(credential, now)
            if token is None:
                raise AuthError(why)
            bindings, roles = self.accounts.grants([f"token:{token.id}"])
            return (Principal("token", token.id, f"token:{token.name}", bindings), roles,
                    token.expires_at)
        try:
            claims = self.issuer.verify(credential, now)
        except TokenError as exc:
            raise AuthError(str(exc)) from None
        kind, _, uid = claims.subject.partition(":")
        user, bindings, roles = self.accounts.identity(uid) if kind == "user" else (
            None, (), Roles())
        if user is None:
            raise AuthError("the token's user no longer exists")
        if user.disabled:
            raise AuthError("the token's user is disabled")
        return (Principal("user", user.id, user.name, bindings, user.groups), roles,
                claims.expires_at)
