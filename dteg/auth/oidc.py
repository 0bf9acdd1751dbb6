"""OpenID Connect single sign-on, the relying party's side: discovery, the authorization
request (``state``, ``nonce``, PKCE S256), the code exchange, and a strict id_token check.

The id_token is checked with PyJWT against the provider's JWKS: only the asymmetric
algorithms the provider advertises (never ``none`` or HS*, whose "key" would be public or
the client secret), a key the JWKS publishes (fetched again once when a ``kid`` is new: the
provider rotated), issuer, audience (``client_id``; ``azp`` when there are several), expiry,
not-before and issued-at against this service's clock, and the nonce of this login. Groups
come from the configured claim of the id_token, else of userinfo (whose ``sub`` must match).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from dteg.auth.settings import OidcSettings
from dteg.errors import ConfigError

# Asymmetric only: an HS256 id_token is keyed with the client secret, `none` with nothing.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                      "ES512", "EdDSA")
LEEWAY = timedelta(seconds=60)  # clock skew between us and the provider
DISCOVERY_TTL = timedelta(hours=1)
JWKS_MIN_REFETCH = timedelta(seconds=30)  # an unknown kid refetches, at most this often
HTTP_TIMEOUT_S = 10.0
MAX_GROUPS = 200


class OidcError(Exception):
    """A sign-in through the provider that cannot go on: ``message`` says what happened,
    ``hint`` what to do; ``status`` is the HTTP status the callback answers with."""

    def __init__(self, message: str, hint: str, status: int = 401) -> None:
        super().__init__(message)
        self.message, self.hint, self.status = message, hint, status


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]
    auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    issuer: str
    subject: str
    username: str
    groups: tuple[str, ...]
    email: str | None = None
    name: str | None = None

    @property
    def external_id(self) -> str:
        return f"{self.issuer}|{self.subject}"


# (method, url, form body or None, headers) → (status, parsed JSON); unit tests pass a fake.
Fetch = Callable[[str, str, Mapping[str, str] | None, Mapping[str, str]], tuple[int, Any]]


def http_fetch(method: str, url: str, form: Mapping[str, str] | None,
               headers: Mapping[str, str]) -> tuple[int, Any]:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise OidcError(f"the provider named a non-HTTP endpoint {url!r}",
                        "The provider's discovery document is wrong.", 502)
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Accept": "application/json", **headers,
        **({"Content-Type": "application/x-www-form-urlencoded"} if data else {})})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            status, body = response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(100_000)
    try:
        return status, json.loads(body or b"null")
    except ValueError:
        return status, None


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, its S256 code_challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _loopback(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "::1", "localhost")


def _secure(url: str) -> bool:
    scheme = urllib.parse.urlsplit(url).scheme
    return scheme == "https" or (scheme == "http" and _loopback(url))


def check_issuer_url(url: str) -> None:
    if _secure(url):
        return
    raise ConfigError(f"DTEG_OIDC_ISSUER={url!r} is not an https URL",
                      hint="Set it to the provider's https address (plain http only on a "
                      "loopback address, for tests).")


class OidcClient:
    """One provider, one registered client. Discovery and the JWKS are cached (thread-safe);
    everything else is per login."""

    def __init__(self, settings: OidcSettings, clock: Callable[[], datetime],
                 fetch: Fetch = http_fetch) -> None:
        check_issuer_url(settings.issuer)
        self.settings, self.clock, self.fetch = settings, clock, fetch
        self._lock = threading.Lock()
        self._discovery: tuple[datetime, Discovery] | None = None
        self._jwks: tuple[datetime, jwt.PyJWKSet] | None = None

    # --- talking to the provider ---------------------------------------------------------

    def _call(self, method: str, url: str, what: str, form: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        try:
            return self.fetch(method, url, form, headers or {})
        except (OSError, urllib.error.URLError) as exc:
            raise OidcError(f"the identity provider did not answer ({what}: {exc})",
                            "Try again in a moment; if it persists, check that the provider "
                            f"at {self.settings.issuer} is up.", 502) from None

    def discovery(self) -> Discovery:
        now = self.clock()
        with self._lock:
            if self._discovery and now - self._discovery[0] < DISCOVERY_TTL:
                return self._discovery[1]
        url = f"{self.settings.issuer}/.well-known/openid-configuration"
        status, doc = self._call("GET", url, "discovery")
        if status != 200 or not isinstance(doc, dict):
            raise OidcError(f"the identity provider's discovery document answered {status}",
                            f"Check DTEG_OIDC_ISSUER ({self.settings.issuer}).", 502)
        # OIDC Discovery 4.3: the document names exactly the issuer asked for.
        if doc.get("issuer") != self.settings.issuer:
            raise OidcError(f"the provider calls itself {doc.get('issuer')!r}, not "
                            f"{self.settings.issuer!r}", "Set DTEG_OIDC_ISSUER to exactly the "
                            "issuer its discovery document names.", 502)
        try:
            found = Discovery(
                issuer=doc["issuer"], authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]), jwks_uri=str(doc["jwks_uri"]),
                userinfo_endpoint=doc.get("userinfo_endpoint"),
                algorithms=tuple(doc.get("id_token_signing_alg_values_supported") or
                                 ("RS256",)),
                auth_methods=tuple(doc.get("token_endpoint_auth_methods_supported") or
                                   ("client_secret_basic",)))
        except KeyError as exc:
            raise OidcError(f"the provider's discovery document has no {exc}",
                            "Is DTEG_OIDC_ISSUER an OpenID Connect provider?", 502) from None
        for endpoint in (found.authorization_endpoint, found.token_endpoint, found.jwks_uri,
                         found.userinfo_endpoint):
            if endpoint and not _secure(endpoint):
                raise OidcError(f"the provider's endpoint {endpoint} is not https",
                                "The provider's discovery document is wrong.", 502)
        with self._lock:
            self._discovery = (now, found)
        return found

    def _key_set(self, refresh: bool) -> jwt.PyJWKSet:
        now = self.clock()
        with self._lock:
            cached = self._jwks
            if cached and not (refresh and now - cached[0] >= JWKS_MIN_REFETCH):
                return cached[1]
        status, doc = self._call("GET", self.discovery().jwks_uri, "JWKS")
        if status != 200 or not isinstance(doc, dict):
            raise OidcError(f"the provider's JWKS answered {status}", "Try again; if it "
                            "persists, the provider is misconfigured.", 502)
        try:
            keys = jwt.PyJWKSet.from_dict(doc)
        except jwt.PyJWTError as exc:
            raise OidcError(f"the provider's JWKS has no usable key ({exc})",
                            "The provider is misconfigured.", 502) from None
        with self._lock:
            self._jwks = (now, keys)
        return keys

    def _key(self, kid: str | None, alg: str) -> Any:
        for refresh in (False, True):
            keys = self._key_set(refresh)
            usable = [k for k in keys.keys if k.key_type != "oct"
                      and k.public_key_use in (None, "sig")
                      and getattr(k, "_jwk_data", {}).get("alg") in (None, alg)]
            if kid is not None:
                usable = [k for k in usable if k.key_id == kid]
            if len(usable) == 1:
                return usable[0].key
        raise OidcError("the id_token is signed with a key the provider does not publish",
                        "Sign in again; if it keeps failing, the token was not made by "
                        f"{self.settings.issuer}.")

    # --- the login -----------------------------------------------------------------------

    def authorize_url(self, redirect_uri: str, state: str, nonce: str,
                      code_challenge: str) -> str:
        endpoint = self.discovery().authorization_endpoint
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri, "scope": self.settings.scopes, "state": state,
            "nonce": nonce, "code_challenge": code_challenge,
            "code_challenge_method": "S256"})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def exchange(self, code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
        """The token endpoint's answer for an authorization code (client_secret_basic, or
        client_secret_post when that is all the provider takes)."""
        found = self.discovery()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": verifier}
        headers: dict[str, str] = {}
        secret = self.settings.client_secret
        if secret is None:
            form["client_id"] = self.settings.client_id
        elif "client_secret_basic" in found.auth_methods:
            pair = (f"{urllib.parse.quote(self.settings.client_id, safe='')}:"
                    f"{urllib.parse.quote(secret, safe='')}")
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form.update(client_id=self.settings.client_id, client_secret=secret)
        status, answer = self._call("POST", found.token_endpoint, "token", form, headers)
        if status != 200 or not isinstance(answer, dict) or "id_token" not in answer:
            error = answer.get("error") if isinstance(answer, dict) else None
            raise OidcError(f"the provider refused the sign-in code ({status}"
                            f"{', ' + str(error) if error else ''})",
                            "Start the sign-in again; if it keeps failing, check "
                            "DTEG_OIDC_CLIENT_ID/SECRET and the registered redirect URI.", 502)
        return answer

    def validate_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        """The id_token's claims, or OidcError saying what is wrong with it."""
        refuse = "Start the sign-in again from the login page."
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise OidcError(f"the id_token is not a JWT ({exc})", refuse) from None
        alg = header.get("alg")
        advertised = set(self.discovery().algorithms)
        if alg not in ALLOWED_ALGORITHMS or alg not in advertised:
            raise OidcError(f"the id_token is signed {alg!r}; only "
                            f"{', '.join(a for a in ALLOWED_ALGORITHMS if a in advertised)} "
                            "are accepted", refuse)
        key = self._key(header.get("kid"), str(alg))
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[str(alg)], audience=self.settings.client_id,
                issuer=self.settings.issuer,
                # Times are checked below against this service's clock.
                options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_exp": False,
                         "verify_iat": False, "verify_nbf": False})
        except jwt.InvalidSignatureError:
            raise OidcError("the id_token's signature does not verify", refuse) from None
        except jwt.InvalidAudienceError:
            raise OidcError("the id_token is for another client (aud)", refuse) from None
        except jwt.InvalidIssuerError:
            raise OidcError("the id_token is from another issuer", refuse) from None
        except jwt.PyJWTError as exc:
            raise OidcError(f"the id_token is not valid ({exc})", refuse) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if (len(audiences) > 1 or "azp" in claims) and \
                claims.get("azp") != self.settings.client_id:
            raise OidcError("the id_token was issued to another party (azp)", refuse)
        now = self.clock()
        try:
            exp = datetime.fromtimestamp(int(claims["exp"]), tz=timezone.utc)
            iat = datetime.fromtimestamp(int(claims["iat"]), tz=timezone.utc)
            nbf = datetime.fromtimestamp(int(claims.get("nbf", claims["iat"])),
                                         tz=timezone.utc)
        except (TypeError, ValueError, OverflowError):
            raise OidcError("the id_token's times are not numbers", refuse) from None
        if now >= exp + LEEWAY:
            raise OidcError("the id_token has expired", refuse)
        if now < nbf - LEEWAY or now < iat - LEEWAY:
            raise OidcError("the id_token is not valid yet (check the clocks of this server "
                            "and the provider)", refuse)
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
            raise OidcError("the id_token's nonce is not this sign-in's", refuse)
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise OidcError("the id_token has no subject", refuse)
        return claims

    def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        endpoint = self.discovery().userinfo_endpoint
        if not endpoint:
            return {}
        status, info = self._call("GET", endpoint, "userinfo",
                                  headers={"Authorization": f"Bearer {access_token}"})
        if status != 200 or not isinstance(info, dict):
            raise OidcError(f"the provider's userinfo answered {status}", "Sign in again.",
                            502)
        # OIDC Core 5.3.2: a userinfo answer about someone else must not be used.
        if info.get("sub") != subject:
            raise OidcError("userinfo is about another subject than the id_token",
                            "Sign in again.")
        return info

    def identity(self, code: str, redirect_uri: str, verifier: str, nonce: str) -> Identity:
        """Code → tokens → a validated identity with its groups."""
        tokens = self.exchange(code, redirect_uri, verifier)
        claims = self.validate_id_token(str(tokens["id_token"]), nonce)
        merged = dict(claims)
        claim = self.settings.groups_claim
        access = tokens.get("access_token")
        if (claim not in claims or "preferred_username" not in claims) and \
                isinstance(access, str):
            # The id_token's own claims win; userinfo only fills in what it left out.
            merged = {**self.userinfo(access, str(claims["sub"])), **claims}
        return Identity(issuer=self.settings.issuer, subject=str(claims["sub"]),
                        username=username_of(merged), groups=groups_of(merged, claim),
                        email=_text(merged.get("email")), name=_text(merged.get("name")))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def username_of(claims: Mapping[str, Any]) -> str:
    for key in ("preferred_username", "email", "sub"):
        value = _text(claims.get(key))
        if value and len(value) <= 200:
            return value
    raise OidcError("the provider sent no usable user name (preferred_username, email or "
                    "sub)", "Ask the provider's admin to release preferred_username.")


def groups_of(claims: Mapping[str, Any], claim: str) -> tuple[str, ...]:
    value = claims.get(claim)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise OidcError(f"the `{claim}` claim is not a list of names",
                        "Set DTEG_OIDC_GROUPS_CLAIM to the claim that lists group names.")
    return tuple(dict.fromkeys(g for g in value if g and len(g) <= 200))[:MAX_GROUPS]
