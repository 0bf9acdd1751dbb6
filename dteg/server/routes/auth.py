"""/api/v1/auth: sign in (OAuth2's password grant, or the web UI's login that sets a
session cookie), refresh, sign out, who am I; the public keys at /.well-known/jwks.json."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from dteg.auth.rbac import Principal, scopes_of
from dteg.auth.service import AuthService, TokenPair
from dteg.server.access import ACCESS_COOKIE, REFRESH_COOKIE, principal_of, requires
from dteg.server.auth_models import (
    BindingModel,
    LoginRequest,
    Me,
    RefreshRequest,
    SignInOptions,
    TokenResponse,
)
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.errors import ApiError, ErrorResponse

router = APIRouter(prefix="/auth", tags=["auth"])
Context = Annotated[ServerContext, Depends(context)]
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Wrong credentials"},
    429: {"model": ErrorResponse, "description": "Too many failed logins: wait"}}


def _auth(ctx: ServerContext) -> AuthService:
    if ctx.auth is None:
        raise ApiError(404, "not_found", "authentication is switched off on this server",
                       hint="Every request is allowed (the server listens on a loopback "
                       "address only).")
    return ctx.auth


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(access_token=pair.access_token, expires_in=pair.expires_in,
                         refresh_token=pair.refresh_token)


def _sign_in(ctx: ServerContext, username: str, password: str, request: Request
             ) -> TokenPair:
    outcome = _auth(ctx).login(username, password, address_of(request))
    if outcome.tokens is None:
        if outcome.retry_after_s > 0:
            raise ApiError(429, "too_many_attempts", outcome.reason,
                           hint=f"Wait {outcome.retry_after_s:.0f} s before trying again.")
        raise ApiError(401, "invalid_grant", outcome.reason,
                       hint="Check the user name and password.")
    return outcome.tokens


@router.post("/token", response_model=TokenResponse, responses=REFUSED,
             summary="OAuth2 token endpoint: the password and refresh_token grants")
def token(request: Request, ctx: Context,
          grant_type: Annotated[str, Form(pattern="^(password|refresh_token)$")],
          username: Annotated[str | None, Form(max_length=200)] = None,
          password: Annotated[str | None, Form(max_length=1000)] = None,
          refresh_token: Annotated[str | None, Form(max_length=500)] = None,
          _: str = requires("auth.signin", public=True)) -> TokenResponse:
    if grant_type == "password":
        if not username or password is None:
            raise ApiError(422, "invalid_request", "the password grant needs username and "
                           "password")
        return _tokens(_sign_in(ctx, username, password, request))
    if not refresh_token:
        raise ApiError(422, "invalid_request", "the refresh_token grant needs refresh_token")
    pair = _auth(ctx).refresh(refresh_token)
    if pair is None:
        raise ApiError(401, "invalid_grant", "the refresh token is not valid any more",
                       hint="Sign in again.")
    return _tokens(pair)


def _set_cookies(response: Response, request: Request, pair: TokenPair,
                 refresh_seconds: int) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(ACCESS_COOKIE, pair.access_token, max_age=pair.expires_in,
                        httponly=True, samesite="strict", secure=secure, path="/")
    response.set_cookie(REFRESH_COOKIE, pair.refresh_token, max_age=refresh_seconds,
                        httponly=True, samesite="strict", secure=secure,
                        path="/api/v1/auth")


def me_of(ctx: ServerContext, principal: Principal) -> Me:
    roles = ctx.auth.roles() if ctx.auth is not None else None
    return Me(kind=principal.kind, id=principal.id, name=principal.name,
              groups=list(principal.groups),
              bindings=[BindingModel(role=b.role, scope=b.scope) for b in principal.bindings],
              permissions=scopes_of(principal, roles), auth_enabled=ctx.auth is not None,
              sso=ctx.auth is not None and ctx.auth.settings.oidc is not None)


@router.post("/login", response_model=Me, responses=REFUSED,
             summary="Sign in to the web UI (sets the session cookies)")
def login(body: LoginRequest, request: Request, response: Response, ctx: Context,
          _: str = requires("auth.signin", public=True)) -> Me:
    pair = _sign_in(ctx, body.username, body.password, request)
    auth = _auth(ctx)
    _set_cookies(response, request, pair, int(auth.settings.refresh_ttl.total_seconds()))
    return me_of(ctx, auth.principal_of(pair.user))


@router.post("/refresh", response_model=TokenResponse, responses=REFUSED,
             summary="A new access token for a refresh token (or the session cookie's)")
def refresh(request: Request, response: Response, ctx: Context,
            body: RefreshRequest | None = None,
            _: str = requires("auth.signin", public=True)) -> TokenResponse:
    auth = _auth(ctx)
    presented = (body.refresh_token if body else None) or request.cookies.get(REFRESH_COOKIE)
    pair = auth.refresh(presented) if presented else None
    if pair is None:
        raise ApiError(401, "invalid_grant", "the session has ended", hint="Sign in again.")
    if not (body and body.refresh_token):
        _set_cookies(response, request, pair, int(auth.settings.refresh_ttl.total_seconds()))
    return _tokens(pair)


@router.post("/logout", status_code=204, summary="Sign out (revokes the refresh token)")
def logout(request: Request, response: Response, ctx: Context,
           body: RefreshRequest | None = None,
           _: str = requires("auth.signin", public=True)) -> Response:
    presented = (body.refresh_token if body else None) or request.cookies.get(REFRESH_COOKIE)
    if presented and ctx.auth is not None:
        ctx.auth.logout(presented)
    answer = Response(status_code=204)
    answer.delete_cookie(ACCESS_COOKIE, path="/")
    answer.delete_cookie(REFRESH_COOKIE, path="/api/v1/auth")
    return answer


@router.get("/providers", response_model=SignInOptions,
            summary="How to sign in here (for the login page; no token needed)")
def providers(ctx: Context, _: str = requires("auth.signin", public=True)) -> SignInOptions:
    sso = ctx.auth is not None and ctx.auth.settings.oidc is not None
    return SignInOptions(auth_enabled=ctx.auth is not None, password=ctx.auth is not None,
                         sso=sso, sso_url="/api/v1/auth/oidc/login" if sso else None)


@router.get("/me", response_model=Me, summary="Who you are and what you may do")
def me(request: Request, ctx: Context, _: str = requires("account.read")) -> Me:
    return me_of(ctx, principal_of(request))


@router.get("/jwks", summary="The public keys that verify access tokens (JWKS)")
def jwks(ctx: Context, _: str = requires("auth.keys", public=True)) -> dict[str, Any]:
    return _auth(ctx).keys.jwks(ctx.clock())


well_known = APIRouter(tags=["auth"])


@well_known.get("/.well-known/jwks.json", summary="The JWKS (same as /api/v1/auth/jwks)")
def jwks_well_known(ctx: Context, _: str = requires("auth.keys", public=True)
                    ) -> dict[str, Any]:
    return _auth(ctx).keys.jwks(ctx.clock())
