"""Registry accounts: users with tokens, the current user of a request, and the audit log.

Users live in the ``users`` collection (``_id`` = name): ``{name, organisation, role:
user|admin, publisher, token_sha256, created}`` — only a token's sha256 is kept, the token is
shown once when the user is created. The registry's admin token (set at start) is the admin
user ``admin``; a publisher token signs in as a user named after its publisher, so a
publisher can answer reviews of its components without a second token.

Every mutation calls ``record_audit`` (collection ``audit``: who, action, target, when,
detail), which other registry modules (reviews, licences, …) share.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request

from dteg.marketplace.server.deps import Store, bearer, fail
from dteg.marketplace.server.storage import MetadataStore, token_digest

Role = Literal["user", "admin"]
ADMIN_NAME = "admin"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class RegistryUser:
    """Who a request is: a registry user, the admin, or a publisher signed in with its token
    (``publisher`` names the publisher the user acts for, if any)."""

    name: str
    organisation: str | None
    role: Role
    publisher: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def create_user(store: MetadataStore, name: str, *, organisation: str | None = None,
                role: Role = "user", publisher: str | None = None) -> str:
    """A new user; returns its token (shown once). ``ValueError`` for a bad name or role,
    ``KeyError`` when the name is taken (the unique ``_id`` decides, not a prior read)."""
    if not _NAME.match(name) or name == ADMIN_NAME:
        raise ValueError(f"`{name}` is not a valid user name (letters, digits, . _ @ -; "
                         f"at most 64; not `{ADMIN_NAME}`)")
    if role not in ("user", "admin"):
        raise ValueError(f"role `{role}` is neither `user` nor `admin`")
    token = "dtegusr_" + secrets.token_urlsafe(32)
    doc = {"_id": name, "name": name, "organisation": organisation, "role": role,
           "publisher": publisher, "token_sha256": token_digest(token), "created": _now()}
    try:
        store.db.users.insert_one(doc)
    except store.duplicate_key_error:
        raise KeyError(name) from None
    return token


def user_of_token(request: Request, store: MetadataStore, token: str) -> RegistryUser | None:
    """The user a bearer token belongs to (None for an unknown token)."""
    if not token:
        return None
    admin = request.app.state.admin_token
    if admin and hmac.compare_digest(token, admin):
        return RegistryUser(ADMIN_NAME, None, "admin")
    found = store.db.users.find_one({"token_sha256": token_digest(token)})
    if found is not None:
        return RegistryUser(found["name"], found.get("organisation"), found.get("role", "user"),
                            found.get("publisher"))
    publisher = store.publisher_of_token(token)
    if publisher is not None:
        return RegistryUser(str(publisher["_id"]), None, "user", str(publisher["_id"]))
    return None


def optional_user(request: Request, store: Store,
                  authorization: Annotated[str | None, Header()] = None) -> RegistryUser | None:
    """The signed-in user, or None for an anonymous request (a bad token is still refused)."""
    token = bearer(authorization)
    if not token:
        return None
    found = user_of_token(request, store, token)
    if found is None:
        raise fail(401, "auth", "this token is not known to the registry "
                   "(`dteg marketplace login --token T` saves a valid one)")
    return found


def require_user(user: Annotated[RegistryUser | None, Depends(optional_user)]) -> RegistryUser:
    """The signed-in user; 401 without a token."""
    if user is None:
        raise fail(401, "auth", "this needs a registry account: ask the registry's admin for "
                   "a token, then `dteg marketplace login --token T`")
    return user


def require_admin(user: Annotated[RegistryUser, Depends(require_user)]) -> RegistryUser:
    """An admin: the registry's admin token or a user with role ``admin``."""
    if not user.is_admin:
        raise fail(403, "auth", f"`{user.name}` is not a registry admin; this needs the "
                   "registry's admin token or an admin user's")
    return user


User = Annotated[RegistryUser, Depends(require_user)]
MaybeUser = Annotated[RegistryUser | None, Depends(optional_user)]
Admin = Annotated[RegistryUser, Depends(require_admin)]


def record_audit(store: MetadataStore, who: RegistryUser | str, action: str, target: str,
                 **detail: Any) -> None:
    """Append one entry to the audit collection (never a token or secret in ``detail``)."""
    name = who.name if isinstance(who, RegistryUser) else who
    store.db.audit.insert_one({"who": name, "action": action, "target": target,
                               "when": _now(), "detail": detail})


def audit_entries(store: MetadataStore, *, action: str | None = None,
                  target: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest audit entries first (filtered by action/target)."""
    query = {k: v for k, v in (("action", action), ("target", target)) if v}
    found = store.db.audit.find(query).sort("when", -1).limit(limit)
    return [{"who": d["who"], "action": d["action"], "target": d["target"],
             "when": d["when"].isoformat(), "detail": d.get("detail") or {}} for d in found]


def account_routes() -> APIRouter:
    """``POST /api/v1/users``, ``GET /api/v1/me``, ``GET /api/v1/audit``."""
    router = APIRouter()

    @router.post("/api/v1/users", status_code=201)
    def add_user(body: dict[str, Any], store: Store, admin: Admin) -> dict[str, Any]:
        name, role = body.get("name"), body.get("role", "user")
        organisation, publisher = body.get("organisation"), body.get("publisher")
        if not isinstance(name, str) or not all(
                v is None or isinstance(v, str) for v in (organisation, publisher, role)):
            raise fail(400, "user", "a user needs a string `name`; `organisation`, `role` "
                       "(user|admin) and `publisher` are optional strings")
        if publisher is not None and store.publisher(publisher) is None:
            raise fail(400, "user", f"no publisher `{publisher}` in this registry")
        try:
            token = create_user(store, name, organisation=organisation, role=role,
                                publisher=publisher)
        except ValueError as exc:
            raise fail(400, "user", str(exc)) from None
        except KeyError:
            raise fail(409, "user", f"a user `{name}` exists already") from None
        record_audit(store, admin, "user.create", f"user:{name}", role=role,
                     organisation=organisation, publisher=publisher)
        return {"name": name, "organisation": organisation, "role": role,
                "publisher": publisher, "token": token}

    @router.get("/api/v1/me")
    def me(user: User) -> dict[str, Any]:
        return {"name": user.name, "organisation": user.organisation, "role": user.role,
                "publisher": user.publisher}

    @router.get("/api/v1/audit")
    def audit(store: Store, admin: Admin, action: str | None = None,
              target: str | None = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
        return {"items": audit_entries(store, action=action, target=target, limit=limit)}

    return router
