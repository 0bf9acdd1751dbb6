"""The access-control tables (SQLAlchemy Core), in the server's database next to the
orchestrator's. Their own Alembic chain (``migrations/``, version table
``dteg_auth_alembic_version``) keeps them independent of the orchestrator's."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from dteg.orchestrator.store.schema import NAMING_CONVENTION, UtcDateTime

metadata = MetaData(naming_convention=NAMING_CONVENTION)

users = Table(
    "dteg_auth_users", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    # None for users who sign in through OIDC only.
    Column("password_hash", Text),
    # local | oidc
    Column("source", String(20), nullable=False),
    Column("groups", JSON, nullable=False, default=list),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_login", UtcDateTime),
    # OIDC users: "<issuer>|<sub>", the provider's stable id (names may change or collide).
    Column("external_id", String(500), unique=True),
)

bindings = Table(
    "dteg_auth_bindings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # user:<id> | group:<name> | token:<id>
    Column("subject", String(250), nullable=False, index=True),
    Column("role", String(100), nullable=False),
    Column("scope", String(250), nullable=False, default="*"),
)

roles = Table(
    "dteg_auth_roles", metadata,
    Column("name", String(100), primary_key=True),
    Column("permissions", JSON, nullable=False),
    Column("description", Text),
)

api_tokens = Table(
    "dteg_auth_api_tokens", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    # sha256 of the secret part: tokens are random, 32 bytes; a fast hash is enough.
    Column("secret_sha256", String(64), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("last_used", UtcDateTime),
)

refresh_tokens = Table(
    "dteg_auth_refresh_tokens", metadata,
    Column("id", String(40), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("user_id", String(40), ForeignKey("dteg_auth_users.id", ondelete="CASCADE"),
           nullable=False),
    # Every refresh token descends from one login; reuse of a spent one revokes them all.
    Column("family", String(40), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

signing_keys = Table(
    "dteg_auth_signing_keys", metadata,
    Column("kid", String(40), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Retired keys still verify tokens they signed until those expire.
    Column("retired_at", UtcDateTime),
)

login_failures = Table(
    "dteg_auth_login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False),
    Column("address", String(100), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_dteg_auth_login_failures_username_at", "username", "at"),
    Index("ix_dteg_auth_login_failures_address_at", "address", "at"),
)

oidc_logins = Table(
    "dteg_auth_oidc_logins", metadata,
    # sha256 of the `state` sent to the provider: a row is taken (deleted) once.
    Column("state_sha256", String(64), primary_key=True),
    # sha256 of the browser's binding cookie: a callback from another browser is refused.
    Column("browser_sha256", String(64), nullable=False),
    Column("nonce", String(100), nullable=False),
    Column("code_verifier", String(200), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("return_to", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
)

audit_log = Table(
    "dteg_audit_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("action", String(100), nullable=False),
    Column("resource", String(500), nullable=False),
    Column("address", String(100)),
    # allowed | denied | succeeded | failed
    Column("result", String(20), nullable=False),
    Column("status", Integer),
    Column("detail", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
