"""/api/v1/auth/oidc: single sign-on through an OpenID Connect provider (authorization code
flow with PKCE). ``login`` sends the browser to the provider; ``callback`` takes it back,
exchanges the code, checks the id_token, maps the user's groups to roles and sets the same
session cookies as ``POST /api/v1/auth/login``, then returns to ``next`` (a path on this
server only). A failure answers a small HTML page to a browser (JSON to anything else)
saying what happened and what to do, and is audited as a failed ``auth.login``."""

from __future__ import annotations

import html
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from dteg.auth.oidc import OidcClient, OidcError, pkce_pair
from dteg.auth.service import AuthService
from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.errors import ErrorResponse
from dteg.server.models import ErrorBody
from dteg.server.routes.auth import _set_cookies, address_of

router = APIRouter(prefix="/auth/oidc", tags=["auth"])
Context = Annotated[ServerContext, Depends(context)]
CALLBACK_PATH = "/api/v1/auth/oidc/callback"
# Binds a pending sign-in to the browser that started it (see dteg.auth.oidc_logins).
BROWSER_COOKIE = "dteg_oidc"
COOKIE_PATH = "/api/v1/auth/oidc"
REDIRECTS: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the provider (login) or back to `next` (callback)"},
    400: {"model": ErrorResponse, "description": "Unknown, spent or expired sign-in"},
    401: {"model": ErrorResponse, "description": "The provider's answer did not check out"},
    403: {"model": ErrorResponse, "description": "The user may not sign in here"},
    502: {"model": ErrorResponse, "description": "The provider did not answer as it should"}}


class SsoFailure(Exception):
    def __init__(self, status: int, type: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.hint = status, type, message, hint


def safe_next(value: str | None) -> str:
    """A path on this server to return to; anything else (another origin, ``//host``,
    a backslash trick, control characters) becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(c in value for c in "\\\r\n\t") or len(value) > 2000:
        return "/"
    return value


def _sso(ctx: ServerContext) -> tuple[AuthService, OidcClient]:
    if ctx.auth is None or ctx.auth.oidc is None:
        raise SsoFailure(404, "not_found", "single sign-on is not set up on this server",
                         "Sign in with a user name and password, or ask the admin to set "
                         "DTEG_OIDC_ISSUER, DTEG_OIDC_CLIENT_ID and DTEG_OIDC_CLIENT_SECRET.")
    return ctx.auth, ctx.auth.oidc


def _redirect_uri(ctx: ServerContext, request: Request) -> str:
    assert ctx.auth is not None
    base = ctx.auth.settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}{CALLBACK_PATH}"


def _failure_page(request: Request, failure: SsoFailure) -> Response:
    if "text/html" not in request.headers.get("accept", ""):
        body = ErrorResponse(error=ErrorBody(type=failure.type, message=failure.message,
                                             hint=failure.hint))
        return JSONResponse(body.model_dump(mode="json"), status_code=failure.status)
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Sign-in failed — dteg</title></head>"
        "<body style='font-family:sans-serif;max-width:36rem;margin:4rem auto'>"
        "<h1>Single sign-on did not work</h1>"
        f"<p id=what>{html.escape(failure.message[:1].upper() + failure.message[1:])}.</p>"
        f"<p id=hint>{html.escape(failure.hint)}</p>"
        "<p><a href='/'>Back to dteg</a> · <a href='/api/v1/auth/oidc/login'>Sign in "
        "again</a></p></body></html>")
    return HTMLResponse(page, status_code=failure.status,
                        headers={"Cache-Control": "no-store"})


@router.get("/login", status_code=302, response_class=RedirectResponse, responses=REDIRECTS,
            summary="Start single sign-on: a redirect to the identity provider")
def oidc_login(request: Request, ctx: Context,
               next: Annotated[str | None, Query(max_length=2000)] = None,
               _: str = requires("auth.signin", public=True)) -> Response:
    try:
        auth, client = _sso(ctx)
        browser = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(32)
        verifier, challenge = pkce_pair()
        redirect_uri = _redirect_uri(ctx, request)
        pending = auth.pending_logins.begin(browser, verifier, redirect_uri,
                                            safe_next(next), ctx.clock())
        target = client.authorize_url(redirect_uri, pending.state, pending.nonce, challenge)
    except OidcError as exc:
        return _failure_page(request, SsoFailure(exc.status, "sso_unavailable", exc.message,
                                                 exc.hint))
    except SsoFailure as failure:
        return _failure_page(request, failure)
    answer = RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
    # Lax: the provider's redirect back is a top-level navigation from another site.
    answer.set_cookie(BROWSER_COOKIE, browser, max_age=600, httponly=True, samesite="lax",
                      secure=request.url.scheme == "https", path=COOKIE_PATH)
    return answer


@router.get("/callback", status_code=302, response_class=RedirectResponse,
            responses=REDIRECTS,
            summary="The provider's redirect back: signs in and returns to `next`")
def oidc_callback(request: Request, ctx: Context,
                  code: Annotated[str | None, Query(max_length=4000)] = None,
                  state: Annotated[str | None, Query(max_length=500)] = None,
                  iss: Annotated[str | None, Query(max_length=2000)] = None,
                  error: Annotated[str | None, Query(max_length=200)] = None,
                  error_description: Annotated[str | None, Query(max_length=2000)] = None,
                  _: str = requires("auth.signin", public=True)) -> Response:
    address = address_of(request)
    auth: AuthService | None = None
    try:
        auth, client = _sso(ctx)
        if not state:
            raise SsoFailure(400, "invalid_request", "the provider sent no state",
                             "Start the sign-in again from the login page.")
        pending, why = auth.pending_logins.take(state, request.cookies.get(BROWSER_COOKIE),
                                                ctx.clock())
        if pending is None:
            raise SsoFailure(400, "invalid_state", why,
                             "Start the sign-in again from the login page.")
        if error:
            raise SsoFailure(401, "access_denied", f"the provider refused the sign-in "
                             f"({error}{': ' + error_description if error_description else ''})",
                             "Try again, or ask the provider's admin for access to dteg.")
        # RFC 9207: a response naming another issuer is a mix-up attack or a misconfiguration.
        if iss is not None and iss != auth.settings.oidc.issuer:  # type: ignore[union-attr]
            raise SsoFailure(401, "invalid_issuer", "the answer came from another issuer",
                             "Start the sign-in again from the login page.")
        if not code:
            raise SsoFailure(400, "invalid_request", "the provider sent no code",
                             "Start the sign-in again from the login page.")
        identity = client.identity(code, pending.redirect_uri, pending.code_verifier,
                                   pending.nonce)
    except OidcError as exc:
        failure = SsoFailure(exc.status, "sso_failed", exc.message, exc.hint)
        if auth is not None:
            auth.sso_failed(None, address, exc.message)
        return _failure_page(request, failure)
    except SsoFailure as failure:
        if auth is not None:
            auth.sso_failed(None, address, failure.message)
        return _failure_page(request, failure)
    outcome = auth.login_oidc(identity, address)
    if outcome.tokens is None:
        return _failure_page(request, SsoFailure(
            403, "forbidden", f"{identity.username} cannot sign in here: {outcome.reason}",
            "Ask a dteg admin."))
    answer = RedirectResponse(pending.return_to, status_code=302,
                              headers={"Cache-Control": "no-store"})
    _set_cookies(answer, request, outcome.tokens, int(auth.settings.refresh_ttl.total_seconds()))
    answer.delete_cookie(BROWSER_COOKIE, path=COOKIE_PATH)
    return answer
