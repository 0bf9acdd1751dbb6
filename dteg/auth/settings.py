"""How access control is set up, from ``DTEG_*`` environment variables (the server's options
win over them).

- ``DTEG_AUTH``: ``on`` (default) or ``off`` (only on a loopback address).
- ``DTEG_ADMIN_PASSWORD``: the first admin's password (else one is generated and printed
  once, at the first start).
- ``DTEG_AUTH_ISSUER`` (default ``dteg``), ``DTEG_ACCESS_TOKEN_TTL`` (``15m``),
  ``DTEG_REFRESH_TOKEN_TTL`` (``12h``).
- OIDC single sign-on: ``DTEG_OIDC_ISSUER`` (the provider's URL), ``DTEG_OIDC_CLIENT_ID``,
  ``DTEG_OIDC_CLIENT_SECRET``, ``DTEG_OIDC_GROUPS_CLAIM`` (``groups``),
  ``DTEG_OIDC_GROUP_ROLES`` (``data-eng=editor,analysts=viewer:sales_*``: group = role, with an
  optional ``:scope``), ``DTEG_PUBLIC_URL`` (the address browsers use, for the callback).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

from dteg.errors import ConfigError
from dteg.spec.durations import parse_duration


@dataclass(frozen=True)
class GroupRole:
    group: str
    role: str
    scope: str = "*"


def parse_group_roles(text: str) -> tuple[GroupRole, ...]:
    found = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        group, sep, rest = part.partition("=")
        if not sep or not group.strip() or not rest.strip():
            raise ConfigError(f"DTEG_OIDC_GROUP_ROLES: `{part}` is not group=role[:scope]",
                              hint="Write e.g. data-eng=editor,analysts=viewer:sales_*.")
        role, _, scope = rest.partition(":")
        found.append(GroupRole(group.strip(), role.strip(), scope.strip() or "*"))
    return tuple(found)


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str | None
    groups_claim: str = "groups"
    group_roles: tuple[GroupRole, ...] = ()
    scopes: str = "openid profile email groups"


@dataclass(frozen=True)
class AuthSettings:
    enabled: bool = True
    issuer: str = "dteg"
    audience: str = "dteg-api"
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(hours=12)
    admin_password: str | None = field(default=None, repr=False)
    public_url: str | None = None
    oidc: OidcSettings | None = None

    @classmethod
    def from_env(cls, enabled: bool | None = None) -> AuthSettings:
        env = os.environ
        switch = env.get("DTEG_AUTH", "on").strip().lower()
        if switch not in ("on", "off", "true", "false", "1", "0"):
            raise ConfigError(f"DTEG_AUTH={switch!r} is neither on nor off")
        oidc = None
        if env.get("DTEG_OIDC_ISSUER"):
            if not env.get("DTEG_OIDC_CLIENT_ID"):
                raise ConfigError("DTEG_OIDC_ISSUER is set but DTEG_OIDC_CLIENT_ID is not",
                                  hint="Register dteg with the provider and set both.")
            oidc = OidcSettings(
                issuer=env["DTEG_OIDC_ISSUER"].rstrip("/"),
                client_id=env["DTEG_OIDC_CLIENT_ID"],
                client_secret=env.get("DTEG_OIDC_CLIENT_SECRET") or None,
                groups_claim=env.get("DTEG_OIDC_GROUPS_CLAIM", "groups"),
                group_roles=parse_group_roles(env.get("DTEG_OIDC_GROUP_ROLES", "")))
        return cls(
            enabled=switch in ("on", "true", "1") if enabled is None else enabled,
            issuer=env.get("DTEG_AUTH_ISSUER", "dteg"),
            access_ttl=_duration("DTEG_ACCESS_TOKEN_TTL", "15m"),
            refresh_ttl=_duration("DTEG_REFRESH_TOKEN_TTL", "12h"),
            admin_password=env.get("DTEG_ADMIN_PASSWORD") or None,
            public_url=(env.get("DTEG_PUBLIC_URL") or "").rstrip("/") or None,
            oidc=oidc)


def _duration(name: str, default: str) -> timedelta:
    value = os.environ.get(name) or default
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: {exc}") from None
