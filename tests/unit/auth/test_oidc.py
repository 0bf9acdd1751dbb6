"""The OIDC relying party without a network: the id_token check refuses every token that is
not the provider's for this login (a key outside its JWKS, ``alg: none``, HS256 keyed with
the public key, another audience, issuer or azp, another nonce, expired, issued in the
future); pending logins are single use, expire and stay with their browser; SSO users get
their roles from their groups at every login; ``next`` stays on this server."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from dteg.auth.oidc import Identity, OidcClient, OidcError, groups_of, pkce_pair
from dteg.auth.oidc_logins import PendingLogins
from dteg.auth.rbac import Binding
from dteg.auth.service import AuthService
from dteg.auth.settings import OidcSettings, parse_group_roles
from dteg.errors import ConfigError
from dteg.server.routes.oidc import safe_next
from tests.unit.auth.conftest import Clock

ISSUER = "https://idp.example"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if alg.startswith("RS") else ECAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


class Provider:
    """A fake provider: discovery, a JWKS and a token endpoint that answers ``id_token``."""

    def __init__(self) -> None:
        self.keys = [_jwk(RSA_KEY, "r1", "RS256"), _jwk(EC_KEY, "e1", "ES256")]
        self.id_token = ""
        self.userinfo: dict[str, Any] = {}
        self.calls: list[str] = []
        self.forms: list[Mapping[str, str] | None] = []

    def __call__(self, method: str, url: str, form: Mapping[str, str] | None,
                 headers: Mapping[str, str]) -> tuple[int, Any]:
        self.calls.append(url)
        self.forms.append(form)
        if url.endswith("/.well-known/openid-configuration"):
            return 200, {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/auth",
                         "token_endpoint": f"{ISSUER}/token", "jwks_uri": f"{ISSUER}/jwks",
                         "userinfo_endpoint": f"{ISSUER}/me",
                         "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                         "token_endpoint_auth_methods_supported": ["client_secret_basic"]}
        if url.endswith("/jwks"):
            return 200, {"keys": self.keys}
        if url.endswith("/token"):
            assert headers["Authorization"].startswith("Basic ")
            return 200, {"id_token": self.id_token, "access_token": "at"}
        if url.endswith("/me"):
            return 200, self.userinfo
        return 404, None


def claims(clock: Clock, **changes: Any) -> dict[str, Any]:
    now = int(clock.now.timestamp())
    base = {"iss": ISSUER, "sub": "u-1", "aud": "dteg", "iat": now, "exp": now + 300,
            "nonce": "n-1", "preferred_username": "ada", "groups": ["data-eng"]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(body: dict[str, Any], key: Any = RSA_KEY, kid: str = "r1", alg: str = "RS256"
           ) -> str:
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def client(provider: Provider, clock: Clock) -> OidcClient:
    return OidcClient(OidcSettings(issuer=ISSUER, client_id="dteg", client_secret="s"),
                      clock, fetch=provider)


def test_a_token_of_the_provider_for_this_login_passes(client: OidcClient,
                                                       clock: Clock) -> None:
    assert client.validate_id_token(signed(claims(clock)), "n-1")["sub"] == "u-1"
    ec_token = signed(claims(clock), EC_KEY, "e1", "ES256")
    assert client.validate_id_token(ec_token, "n-1")["sub"] == "u-1"


def _none_token(body: dict[str, Any]) -> str:
    return jwt.encode(body, None, algorithm="none")  # type: ignore[arg-type]


def _hs256_with_public_key(body: dict[str, Any]) -> str:
    public = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib
    import hmac

    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "r1"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(body).encode())
    signature = hmac.new(public, header + b"." + payload, hashlib.sha256).digest()
    return b".".join([header, payload, jwt.utils.base64url_encode(signature)]).decode()


@pytest.mark.parametrize(("forge", "why"), [
    (lambda c: signed(claims(c), STRANGER, "r1"), "signature does not verify"),
    (lambda c: signed(claims(c), STRANGER, "other"), "does not publish"),
    (lambda c: _none_token(claims(c)), "'none'"),
    (lambda c: _hs256_with_public_key(claims(c)), "'HS256'"),
    (lambda c: signed(claims(c, aud="someone-else")), "another client"),
    (lambda c: signed(claims(c, iss="https://evil.example")), "another issuer"),
    (lambda c: signed(claims(c, aud=["dteg", "other"])), "another party"),
    (lambda c: signed(claims(c, azp="other")), "another party"),
    (lambda c: signed(claims(c, nonce="n-2")), "nonce"),
    (lambda c: signed(claims(c, nonce=None)), "nonce"),
    (lambda c: signed(claims(c, exp=int(c.now.timestamp()) - 120)), "expired"),
    (lambda c: signed(claims(c, iat=int(c.now.timestamp()) + 3600)), "not valid yet"),
    (lambda c: signed(claims(c, nbf=int(c.now.timestamp()) + 3600)), "not valid yet"),
    (lambda c: signed(claims(c, exp=None)), "exp"),
    (lambda c: signed(claims(c), EC_KEY, "r1", "ES256"), "does not publish"),
    (lambda c: "not.a.jwt", "not a JWT"),
])
def test_a_forged_or_foreign_id_token_is_refused(client: OidcClient, clock: Clock,
                                                 forge: Any, why: str) -> None:
    with pytest.raises(OidcError) as refused:
        client.validate_id_token(forge(clock), "n-1")
    assert why in refused.value.message


def test_an_algorithm_the_provider_does_not_advertise_is_refused(client: OidcClient,
                                                                 clock: Clock) -> None:
    token = signed(claims(clock), RSA_KEY, "r1", "RS512")
    with pytest.raises(OidcError, match="RS512"):
        client.validate_id_token(token, "n-1")


def test_a_new_kid_fetches_the_jwks_again_once(client: OidcClient, provider: Provider,
                                               clock: Clock) -> None:
    client.validate_id_token(signed(claims(clock)), "n-1")
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider.keys = [_jwk(rotated, "r2", "RS256")]
    clock.advance(seconds=60)
    assert client.validate_id_token(signed(claims(clock), rotated, "r2"), "n-1")
    assert provider.calls.count(f"{ISSUER}/jwks") == 2


def test_the_code_exchange_sends_the_verifier_and_groups_come_from_userinfo(
        client: OidcClient, provider: Provider, clock: Clock) -> None:
    provider.id_token = signed(claims(clock, groups=None, preferred_username=None))
    provider.userinfo = {"sub": "u-1", "preferred_username": "ada", "groups": ["analysts"]}
    verifier, challenge = pkce_pair()
    assert len(challenge) == 43 and "code_challenge_method=S256" in client.authorize_url(
        "http://127.0.0.1:1/cb", "st", "n-1", challenge)
    who = client.identity("the-code", "http://127.0.0.1:1/cb", verifier, "n-1")
    assert who == Identity(ISSUER, "u-1", "ada", ("analysts",))
    token_form = provider.forms[provider.calls.index(f"{ISSUER}/token")]
    assert token_form and token_form["code_verifier"] == verifier
    # Userinfo about another subject is not used.
    provider.userinfo = {"sub": "u-2", "groups": ["admins"]}
    with pytest.raises(OidcError, match="another subject"):
        client.identity("the-code", "http://127.0.0.1:1/cb", verifier, "n-1")


def test_an_issuer_whose_discovery_names_another_is_refused(clock: Clock) -> None:
    fake = Provider()
    other = OidcClient(OidcSettings(issuer="https://idp.example/tenant", client_id="dteg",
                                    client_secret="s"), clock, fetch=fake)
    with pytest.raises(OidcError, match="calls itself"):
        other.discovery()
    with pytest.raises(ConfigError):
        OidcClient(OidcSettings(issuer="http://idp.example", client_id="dteg",
                                client_secret=None), clock, fetch=fake)


def test_groups_must_be_a_list_of_names() -> None:
    assert groups_of({"groups": "one"}, "groups") == ("one",)
    assert groups_of({}, "groups") == ()
    with pytest.raises(OidcError):
        groups_of({"groups": [{"id": 1}]}, "groups")


def test_a_pending_login_is_taken_once_within_ten_minutes_by_its_browser(
        auth: AuthService, clock: Clock) -> None:
    logins = PendingLogins(auth.engine)
    first = logins.begin("browser-1", "verifier", "http://x/cb", "/runs", clock.now)
    assert logins.take(first.state, "browser-2", clock.now)[1] == \
        "this sign-in was started in another browser"
    assert logins.take(first.state, "browser-1", clock.now)[0] is None  # spent by the above
    second = logins.begin("browser-1", "verifier", "http://x/cb", "/runs", clock.now)
    taken, _ = logins.take(second.state, "browser-1", clock.now)
    assert taken is not None and taken.return_to == "/runs" and taken.nonce == second.nonce
    assert "already used" in logins.take(second.state, "browser-1", clock.now)[1]
    late = logins.begin("browser-1", "verifier", "http://x/cb", "/", clock.now)
    assert "expired" in logins.take(late.state, "browser-1",
                                    clock.now + timedelta(minutes=11))[1]


def _sso(auth: AuthService) -> AuthService:
    auth.settings = dataclasses.replace(auth.settings, oidc=OidcSettings(
        issuer=ISSUER, client_id="dteg", client_secret="s",
        group_roles=parse_group_roles("data-eng=editor,analysts=viewer:sales_*,"
                                      "analysts=runner:sales_daily")))
    return auth


def test_groups_give_roles_from_the_next_login_on(auth: AuthService) -> None:
    auth = _sso(auth)
    ada = Identity(ISSUER, "u-1", "ada", ("data-eng", "unmapped"))
    outcome = auth.login_oidc(ada, "127.0.0.1")
    assert outcome.tokens is not None
    user = outcome.tokens.user
    assert user.source == "oidc" and user.password_hash is None
    assert auth.principal_of(user).bindings == (Binding("editor", "*"),)
    # Moved to analysts at the provider: the next login has only the analysts' roles.
    moved = auth.login_oidc(Identity(ISSUER, "u-1", "ada", ("analysts",)), "127.0.0.1")
    assert moved.tokens is not None and moved.tokens.user.id == user.id
    assert set(auth.principal_of(moved.tokens.user).bindings) == {
        Binding("viewer", "sales_*"), Binding("runner", "sales_daily")}
    eve = auth.login_oidc(Identity(ISSUER, "u-3", "eve", ()), "127.0.0.1")
    assert eve.tokens is not None and auth.principal_of(eve.tokens.user).bindings == ()


def test_an_sso_user_never_takes_over_a_local_account(auth: AuthService) -> None:
    auth = _sso(auth)
    outcome = auth.login_oidc(Identity(ISSUER, "u-9", "admin", ("data-eng",)), "10.0.0.1")
    assert outcome.tokens is None and "exists already" in outcome.reason
    last = auth.audit.newest(1)[0]
    assert (last.action, last.result, last.detail["method"]) == (  # type: ignore[index]
        "auth.login", "failed", "oidc")
    created = auth.login_oidc(Identity(ISSUER, "u-1", "ada", ()), "10.0.0.1").tokens
    assert created is not None
    auth.accounts.set_disabled(created.user.id, True)
    assert auth.login_oidc(Identity(ISSUER, "u-1", "ada", ()), "10.0.0.1").tokens is None


@pytest.mark.parametrize(("given", "kept"), [
    ("/runs/abc?x=1", "/runs/abc?x=1"), (None, "/"), ("", "/"), ("//evil.example", "/"),
    ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("/ok\r\nSet-Cookie: x", "/"),
    ("runs", "/"),
])
def test_next_stays_on_this_server(given: str | None, kept: str) -> None:
    assert safe_next(given) == kept
