"""Admin routes: users and their roles, API tokens, custom roles, the audit log, the
signing key. Every one is permission-checked and (being a change or a sensitive read)
audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse

from dteg.auth.accounts import AccountError, User
from dteg.auth.audit import AuditEntry
from dteg.auth.passwords import weak_reason
from dteg.auth.rbac import BUILTIN_ROLES, Binding
from dteg.auth.service import AuthService
from dteg.server.access import principal_of, requires
from dteg.server.auth_models import (
    AuditEntryModel,
    AuditPage,
    AuditVerification,
    BindingModel,
    RoleModel,
    TokenCreate,
    TokenCreated,
    TokenInfo,
    UserChange,
    UserCreate,
    UserInfo,
)
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.errors import ApiError, ErrorResponse, not_found

router = APIRouter(tags=["admin"])
Context = Annotated[ServerContext, Depends(context)]
UserName = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.@\-]+$", max_length=200)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "Conflicts with what exists"}}


def _auth(ctx: ServerContext) -> AuthService:
    if ctx.auth is None:
        raise ApiError(404, "not_found", "authentication is switched off on this server")
    return ctx.auth


def _bindings(models: list[BindingModel]) -> list[Binding]:
    return [Binding(m.role, m.scope) for m in models]


def _models(bindings: tuple[Binding, ...]) -> list[BindingModel]:
    return [BindingModel(role=b.role, scope=b.scope) for b in bindings]


def _user_info(auth: AuthService, user: User) -> UserInfo:
    return UserInfo(id=user.id, name=user.name, source=user.source, groups=list(user.groups),
                    disabled=user.disabled, created_at=user.created_at,
                    last_login=user.last_login,
                    bindings=_models(auth.accounts.bindings_of([f"user:{user.id}"])))


def _account_error(exc: AccountError) -> ApiError:
    return ApiError(409 if "exists" in str(exc) else 422, "conflict" if "exists" in str(exc)
                    else "invalid_request", str(exc))


@router.get("/users", response_model=list[UserInfo], summary="Every user")
def list_users(ctx: Context, _: str = requires("users.manage")) -> list[UserInfo]:
    auth = _auth(ctx)
    return [_user_info(auth, u) for u in auth.accounts.users()]


@router.post("/users", response_model=UserInfo, status_code=201, responses=CONFLICT,
             summary="Create a local user")
def create_user(body: UserCreate, ctx: Context, _: str = requires("users.manage")
                ) -> UserInfo:
    auth = _auth(ctx)
    weak = weak_reason(body.password)
    if weak:
        raise ApiError(422, "invalid_request", weak)
    try:
        user = auth.accounts.create_user(body.name, ctx.clock(), body.password,
                                         groups=body.groups)
        auth.accounts.set_bindings(f"user:{user.id}", _bindings(body.bindings))
    except AccountError as exc:
        raise _account_error(exc) from None
    return _user_info(auth, user)


def _user(auth: AuthService, name: str) -> User:
    user = auth.accounts.user_by_name(name)
    if user is None:
        raise not_found(f"user `{name}`", hint="GET /api/v1/users lists them.")
    return user


@router.patch("/users/{user}", response_model=UserInfo, responses=CONFLICT,
              summary="Change a user's password, roles, groups or disabled flag")
def change_user(user: UserName, body: UserChange, request: Request, ctx: Context,
                _: str = requires("users.manage")) -> UserInfo:
    auth = _auth(ctx)
    found = _user(auth, user)
    if body.password is not None:
        weak = weak_reason(body.password)
        if weak:
            raise ApiError(422, "invalid_request", weak)
        auth.accounts.set_password(found.id, body.password)
        auth.refresh_tokens.revoke_user(found.id, ctx.clock())
    if body.bindings is not None:
        _keep_an_admin(auth, found, _bindings(body.bindings))
        try:
            auth.accounts.set_bindings(f"user:{found.id}", _bindings(body.bindings))
        except AccountError as exc:
            raise _account_error(exc) from None
    if body.groups is not None:
        auth.accounts.set_groups(found.id, body.groups)
    if body.disabled is not None:
        if body.disabled and principal_of(request).id == found.id:
            raise ApiError(409, "conflict", "you cannot disable yourself")
        auth.accounts.set_disabled(found.id, body.disabled)
        auth.refresh_tokens.revoke_user(found.id, ctx.clock())
    refreshed = auth.accounts.user(found.id)
    assert refreshed is not None
    return _user_info(auth, refreshed)


def _keep_an_admin(auth: AuthService, user: User, wanted: list[Binding]) -> None:
    had = Binding("admin", "*") in auth.accounts.bindings_of([f"user:{user.id}"])
    if had and Binding("admin", "*") not in wanted and auth.accounts.admins() <= 1:
        raise ApiError(409, "conflict", f"`{user.name}` is the last admin",
                       hint="Make another user admin first.")


@router.delete("/users/{user}", status_code=204, responses=CONFLICT,
               summary="Delete a user (their tokens stop working at once)")
def delete_user(user: UserName, request: Request, ctx: Context,
                _: str = requires("users.manage")) -> Response:
    auth = _auth(ctx)
    found = _user(auth, user)
    if principal_of(request).id == found.id:
        raise ApiError(409, "conflict", "you cannot delete yourself")
    _keep_an_admin(auth, found, [])
    auth.accounts.delete_user(found.id)
    return Response(status_code=204)


def _token_info(auth: AuthService, token: Any) -> TokenInfo:
    return TokenInfo(id=token.id, name=token.name, created_by=token.created_by,
                     created_at=token.created_at, expires_at=token.expires_at,
                     revoked_at=token.revoked_at, last_used=token.last_used,
                     bindings=_models(auth.accounts.bindings_of([f"token:{token.id}"])))


@router.get("/tokens", response_model=list[TokenInfo], summary="Every API token")
def list_tokens(ctx: Context, _: str = requires("tokens.manage")) -> list[TokenInfo]:
    auth = _auth(ctx)
    return [_token_info(auth, t) for t in auth.api_tokens.list()]


@router.post("/tokens", response_model=TokenCreated, status_code=201,
             summary="Create an API token (its secret is in this answer only)")
def create_token(body: TokenCreate, request: Request, ctx: Context,
                 _: str = requires("tokens.manage")) -> TokenCreated:
    auth = _auth(ctx)
    now = ctx.clock()
    wanted = _bindings(body.bindings)
    try:
        from dteg.auth.accounts import check_binding

        for binding in wanted:
            check_binding(binding, auth.roles())
    except AccountError as exc:
        raise _account_error(exc) from None
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token, secret = auth.api_tokens.create(body.name, principal_of(request).name, now,
                                           expires)
    auth.accounts.set_bindings(f"token:{token.id}", wanted)
    return TokenCreated(**_token_info(auth, token).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke an API token")
def revoke_token(token_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]+$", max_length=40)],
                 ctx: Context, _: str = requires("tokens.manage")) -> Response:
    if not _auth(ctx).api_tokens.revoke(token_id, ctx.clock()):
        raise not_found(f"unrevoked token `{token_id}`")
    return Response(status_code=204)


@router.get("/roles", response_model=list[RoleModel], summary="Built-in and custom roles")
def list_roles(ctx: Context, _: str = requires("account.read")) -> list[RoleModel]:
    custom = _auth(ctx).roles().custom
    return ([RoleModel(name=n, permissions=sorted(p), builtin=True)
             for n, p in BUILTIN_ROLES.items()]
            + [RoleModel(name=n, permissions=sorted(p)) for n, p in sorted(custom.items())])


@router.put("/roles/{role}", response_model=RoleModel,
            summary="Create or change a custom role (a set of permissions)")
def save_role(role: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=100)],
              body: RoleModel, ctx: Context, _: str = requires("roles.manage")) -> RoleModel:
    try:
        _auth(ctx).accounts.save_role(role, body.permissions, body.description)
    except AccountError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return RoleModel(name=role, permissions=sorted(set(body.permissions)),
                     description=body.description)


def _entry(entry: AuditEntry) -> AuditEntryModel:
    return AuditEntryModel(**vars(entry))


@router.get("/audit", response_model=AuditPage, summary="The audit log, newest first")
def audit(ctx: Context, before: Annotated[int | None, Query(ge=1)] = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          _: str = requires("audit.read")) -> AuditPage:
    log = _auth(ctx).audit
    entries = log.newest(limit, before)
    return AuditPage(items=[_entry(e) for e in entries],
                     next_before=entries[-1].seq if len(entries) == limit else None)


@router.get("/audit/verify", response_model=AuditVerification,
            summary="Check the hash chain; names the first altered or missing entry")
def audit_verify(ctx: Context, _: str = requires("audit.read")) -> AuditVerification:
    result = _auth(ctx).audit.verify()
    return AuditVerification(ok=result.ok, entries=result.entries, first_bad=result.first_bad,
                             reason=result.reason)


@router.get("/audit/export", response_class=PlainTextResponse,
            responses={200: {"content": {"application/x-ndjson": {}}}},
            summary="The whole audit log as JSON Lines (verify it with dteg audit verify)")
def audit_export(ctx: Context, _: str = requires("audit.read")) -> Response:
    import json

    lines = [json.dumps(e.as_json(), sort_keys=True) for e in _auth(ctx).audit.entries()]
    return Response("".join(f"{line}\n" for line in lines), media_type="application/x-ndjson")


@router.post("/auth/keys/rotate", status_code=204,
             summary="Sign new tokens with a new key (old tokens stay valid until they expire)")
def rotate_key(ctx: Context, _: str = requires("keys.manage")) -> Response:
    _auth(ctx).keys.rotate(ctx.clock())
    return Response(status_code=204)
