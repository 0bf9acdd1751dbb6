"""Every token attack the issue names is refused: alg none, HS256 signed with the public
key, expired, not yet valid, wrong audience or issuer, a tampered payload, a revoked API
token, the token of a deleted user; and a rotation keeps old tokens valid."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from dteg.auth.rbac import Binding
from dteg.auth.service import AuthError, AuthService
from tests.unit.auth.conftest import Clock


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _admin_token(auth: AuthService) -> str:
    outcome = auth.login("admin", "correct horse battery", "127.0.0.1")
    assert outcome.tokens is not None
    return outcome.tokens.access_token


def _claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def refused(auth: AuthService, token: str, why: str) -> None:
    with pytest.raises(AuthError, match=why):
        auth.authenticate(token)


def test_a_good_token_names_its_user(auth: AuthService) -> None:
    principal = auth.authenticate(_admin_token(auth))
    assert principal.name == "admin" and principal.bindings == (Binding("admin", "*"),)


def test_alg_none_is_refused(auth: AuthService) -> None:
    claims = _claims(_admin_token(auth))
    header = {"alg": "none", "typ": "JWT", "kid": auth.keys.active(auth.clock()).kid}
    refused(auth, f"{_b64(header)}.{_b64(claims)}.", "RS256")


def test_hs256_signed_with_the_public_key_is_refused(auth: AuthService) -> None:
    claims = _claims(_admin_token(auth))
    key = auth.keys.active(auth.clock())
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT itself refuses to HMAC with a PEM key; build the token by hand.
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input.encode(),
                                                  hashlib.sha256).digest()).decode().rstrip("=")
    refused(auth, f"{signing_input}.{signature}", "RS256")


def test_an_expired_token_is_refused(auth: AuthService, clock: Clock) -> None:
    token = _admin_token(auth)
    clock.advance(minutes=16)
    refused(auth, token, "expired")


def test_a_token_not_yet_valid_is_refused(auth: AuthService, clock: Clock) -> None:
    clock.advance(minutes=10)
    token = _admin_token(auth)
    clock.advance(minutes=-10)
    refused(auth, token, "not valid yet")


def _resigned(auth: AuthService, token: str, **changes: object) -> str:
    key = auth.keys.active(auth.clock())
    return jwt.encode({**_claims(token), **changes}, key.private_key, algorithm="RS256",
                      headers={"kid": key.kid})


def test_wrong_audience_or_issuer_is_refused(auth: AuthService) -> None:
    token = _admin_token(auth)
    refused(auth, _resigned(auth, token, aud="someone-else"), "audience")
    refused(auth, _resigned(auth, token, iss="https://evil.example"), "issuer")


def test_a_tampered_payload_is_refused(auth: AuthService) -> None:
    header, payload, signature = _admin_token(auth).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "user:someone-else"
    refused(auth, f"{header}.{_b64(claims)}.{signature}", "not valid")


def test_a_token_signed_by_an_unknown_key_is_refused(auth: AuthService) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    claims = _claims(_admin_token(auth))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "nope"})
    refused(auth, forged, "does not know")
    same_kid = jwt.encode(claims, other, algorithm="RS256",
                          headers={"kid": auth.keys.active(auth.clock()).kid})
    refused(auth, same_kid, "not valid")


def test_the_token_of_a_deleted_or_disabled_user_is_refused(auth: AuthService) -> None:
    now = auth.clock()
    bob = auth.accounts.create_user("bob", now, "a long password of bob")
    auth.accounts.set_bindings(f"user:{bob.id}", [Binding("viewer", "*")])
    outcome = auth.login("bob", "a long password of bob", "127.0.0.1")
    assert outcome.tokens is not None
    token = outcome.tokens.access_token
    assert auth.authenticate(token).name == "bob"
    auth.accounts.set_disabled(bob.id, True)
    refused(auth, token, "disabled")
    auth.accounts.delete_user(bob.id)
    refused(auth, token, "no longer exists")


def test_api_tokens_are_shown_once_scoped_expiring_and_revocable(
        auth: AuthService, clock: Clock) -> None:
    token, plaintext = auth.api_tokens.create("ci", "admin", clock(),
                                              expires_at=clock() + timedelta(days=1))
    auth.accounts.set_bindings(f"token:{token.id}", [Binding("runner", "sales_*")])
    principal = auth.authenticate(plaintext)
    assert principal.kind == "token" and principal.bindings == (Binding("runner", "sales_*"),)
    assert plaintext not in json.dumps([vars(t) for t in auth.api_tokens.list()], default=str)
    refused(auth, plaintext[:-2] + "xx", "unknown API token")
    clock.advance(days=2)
    refused(auth, plaintext, "expired")
    clock.advance(days=-2)
    assert auth.api_tokens.revoke(token.id, clock())
    refused(auth, plaintext, "revoked")


def test_a_rotated_key_still_verifies_its_tokens_and_the_jwks_lists_both(
        auth: AuthService, clock: Clock) -> None:
    old = _admin_token(auth)
    old_kid = jwt.get_unverified_header(old)["kid"]
    new_key = auth.keys.rotate(clock())
    assert auth.authenticate(old).name == "admin"
    assert jwt.get_unverified_header(_admin_token(auth))["kid"] == new_key.kid
    kids = {k["kid"] for k in auth.keys.jwks(clock())["keys"]}
    assert kids == {old_kid, new_key.kid}
    clock.advance(minutes=20)  # past the old key's last token
    assert {k["kid"] for k in auth.keys.jwks(clock())["keys"]} == {new_key.kid}
    assert all("d" not in k for k in auth.keys.jwks(clock())["keys"])  # public parts only


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_login(auth: AuthService) -> None:
    outcome = auth.login("admin", "correct horse battery", "127.0.0.1")
    assert outcome.tokens is not None
    first = outcome.tokens.refresh_token
    second = auth.refresh(first)
    assert second is not None and second.refresh_token != first
    assert auth.refresh(first) is None  # replayed: the whole family is revoked
    assert auth.refresh(second.refresh_token) is None
