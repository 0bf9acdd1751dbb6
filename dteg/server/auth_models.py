"""What the access-control routes send and receive (``/api/v1/auth``, ``/api/v1/users``,
``/api/v1/tokens``, ``/api/v1/roles``, ``/api/v1/audit``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class TokenResponse(BaseModel):
    """OAuth2's token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str | None = None


class LoginRequest(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class RefreshRequest(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=500,
                                      description="Left out: the session cookie's")


class BindingModel(BaseModel):
    role: str = Field(max_length=100)
    scope: str = Field(default="*", max_length=250,
                       description="`*`, a pipeline name pattern (sales_*) or namespace:<ns>")


class Me(BaseModel):
    kind: str
    id: str
    name: str
    groups: list[str] = Field(default_factory=list)
    bindings: list[BindingModel] = Field(default_factory=list)
    permissions: dict[str, list[str]] = Field(
        default_factory=dict, description="Each permission and the scopes it holds on")
    auth_enabled: bool = True
    sso: bool = Field(default=False, description="OIDC single sign-on is set up")


class SignInOptions(BaseModel):
    auth_enabled: bool
    password: bool = Field(description="Local users sign in with a password")
    sso: bool = Field(description="Single sign-on through an OIDC provider is set up")
    sso_url: str | None = Field(default=None, description="Where the SSO button points: it "
                                "redirects to the provider and back")


class UserInfo(BaseModel):
    id: str
    name: str
    source: str
    groups: list[str]
    disabled: bool
    created_at: datetime
    last_login: datetime | None = None
    bindings: list[BindingModel] = Field(default_factory=list)


class UserCreate(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.@\-]+$", max_length=200)
    password: str = Field(max_length=1000)
    bindings: list[BindingModel] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)


class UserChange(BaseModel):
    password: str | None = Field(default=None, max_length=1000)
    bindings: list[BindingModel] | None = None
    groups: list[str] | None = None
    disabled: bool | None = None


class TokenCreate(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=200)
    bindings: list[BindingModel] = Field(min_length=1)
    expires_in_days: int | None = Field(default=90, ge=1, le=3650,
                                        description="Null: never expires")


class TokenInfo(BaseModel):
    id: str
    name: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used: datetime | None = None
    bindings: list[BindingModel] = Field(default_factory=list)


class TokenCreated(TokenInfo):
    token: str = Field(description="Shown once: only its hash is kept")


class RoleModel(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=100)
    permissions: list[str]
    builtin: bool = False
    description: str | None = None


class AuditEntryModel(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    resource: str
    address: str | None = None
    result: str
    status: int | None = None
    detail: dict[str, Any] | None = None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryModel]
    next_before: int | None = Field(default=None, description="Pass as ?before= for older "
                                    "entries")


class AuditVerification(BaseModel):
    ok: bool
    entries: int
    first_bad: int | None = None
    reason: str | None = None
