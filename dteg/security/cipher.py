"""Self-describing encrypted values, column at a time.

Formats (text, so any sink can hold them; the key id lets keys rotate):

* ``dteg:v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>``: AES-256-GCM, a random 96-bit nonce
  per value, the header ``dteg:v1:<key id>`` as associated data (so a value cannot be moved to
  another key id);
* ``dteg:v1:<key id>:vault:v<n>:…``: encrypted by a Vault transit key;
* ``dteg:tok:<key id>:<base64(siv ‖ ciphertext)>``: AES-SIV (deterministic: equal values give
  equal tokens, so joins and group-bys still work), reversible with the key.

Decryption never returns garbage: a value that is malformed, names an unknown key, or fails
authentication (wrong key, altered value) is reported as a ``failure`` with the reason. A
value sealed with a per-subject key (``dteg:v1:s.<hex>:…``, see ``subject_keys``) whose key
was destroyed by an erasure decrypts to null and is listed in ``shredded``: that is the
erasure working, not an error.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dteg.security.keys import Keyring, LocalKey, TransitKey
from dteg.security.subject_keys import SUBJECT_KEY_PREFIX, Shredded


class SubjectKeys(Protocol):
    """Where per-subject keys are found (``SubjectKeystore``)."""

    def get(self, key_id: str) -> LocalKey | Shredded | None: ...

PREFIX = "dteg"
ENCRYPTED = "v1"
TOKEN = "tok"
_NONCE = 12
_TAG = 16


def header(kind: str, key_id: str) -> str:
    return f"{PREFIX}:{kind}:{key_id}:"


def encrypt_texts(key: LocalKey | TransitKey, texts: Sequence[str | None]) -> list[str | None]:
    """Encrypt each non-null text (nulls stay null)."""
    head = header(ENCRYPTED, key.id)
    if isinstance(key, TransitKey):
        from dteg.security.vault import transit_encrypt

        present = [t.encode("utf-8") for t in texts if t is not None]
        sealed = iter(transit_encrypt(key.config, present))
        return [None if t is None else head + next(sealed) for t in texts]
    aad = head[:-1].encode("ascii")
    nonces = os.urandom(_NONCE * len(texts))
    seal = key.gcm.encrypt
    b64 = base64.b64encode
    out: list[str | None] = []
    for i, text in enumerate(texts):
        if text is None:
            out.append(None)
            continue
        nonce = nonces[_NONCE * i:_NONCE * (i + 1)]
        out.append(head + b64(nonce + seal(nonce, text.encode("utf-8"), aad)).decode("ascii"))
    return out


def tokenize_texts(key: LocalKey, texts: Sequence[str | None]) -> list[str | None]:
    """Deterministic, reversible tokens (AES-SIV) of each non-null text."""
    head = header(TOKEN, key.id)
    aad = [head[:-1].encode("ascii")]
    seal = key.siv.encrypt
    b64 = base64.b64encode
    return [None if t is None else head + b64(seal(t.encode("utf-8"), aad)).decode("ascii")
            for t in texts]


@dataclass
class Decrypted:
    """Plaintexts by position, and why each failed value failed."""

    values: list[str | None]
    failures: dict[int, str]
    shredded: set[int] = field(default_factory=set)


def decrypt_texts(ring: Keyring, values: Sequence[str | None],
                  subjects: SubjectKeys | None = None) -> Decrypted:
    """Decrypt ``dteg:v1:`` and ``dteg:tok:`` values with the keys of ``ring`` (and the
    per-subject keys of ``subjects``)."""
    from cryptography.exceptions import InvalidTag

    out: list[str | None] = [None] * len(values)
    failures: dict[int, str] = {}
    shredded: set[int] = set()
    transit: dict[str, list[tuple[int, str]]] = {}
    for i, value in enumerate(values):
        if value is None:
            continue
        parts = value.split(":", 3)
        if len(parts) != 4 or parts[0] != PREFIX:
            failures[i] = ("not a dteg-encrypted value (expected `dteg:v1:<key id>:<base64>` "
                           "or `dteg:tok:…`)")
            continue
        _, kind, key_id, payload = parts
        if kind not in (ENCRYPTED, TOKEN):
            failures[i] = f"unknown format `dteg:{kind}` (this dteg reads v1 and tok)"
            continue
        key: LocalKey | TransitKey | Shredded | None = ring.get(key_id)
        if key is None and key_id.startswith(SUBJECT_KEY_PREFIX):
            if subjects is None:
                failures[i] = (f"encrypted with the per-subject key `{key_id}`, but no "
                               "subject keystore was given (`keystore:`)")
                continue
            key = subjects.get(key_id)
        if isinstance(key, Shredded):
            shredded.add(i)
            continue
        if key is None:
            failures[i] = (f"encrypted with key `{key_id}`, which the keyring does not have "
                           f"(ids: {', '.join(ring.keys)})")
            continue
        if isinstance(key, TransitKey):
            if kind != ENCRYPTED or not payload.startswith("vault:"):
                failures[i] = f"key `{key_id}` is a Vault transit key, but this value was not "\
                    "encrypted by Vault"
                continue
            transit.setdefault(key_id, []).append((i, payload))
            continue
        if payload.startswith("vault:"):
            failures[i] = f"encrypted by Vault transit, but key `{key_id}` is a local key"
            continue
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            failures[i] = "malformed: the part after the key id is not valid base64"
            continue
        aad = f"{PREFIX}:{kind}:{key_id}".encode("ascii", "replace")
        try:
            if kind == ENCRYPTED:
                if len(raw) < _NONCE + _TAG:
                    failures[i] = "malformed: too short to hold a nonce and a tag"
                    continue
                plain = key.gcm.decrypt(raw[:_NONCE], raw[_NONCE:], aad)
            else:
                if len(raw) < _TAG:
                    failures[i] = "malformed: too short to hold a token"
                    continue
                plain = key.siv.decrypt(raw, [aad])
        except InvalidTag:
            failures[i] = (f"authentication failed with key `{key_id}`: the key is wrong or "
                           "the value was altered")
            continue
        out[i] = _text(plain, i, failures)
    for key_id, items in transit.items():
        transit_key = ring.get(key_id)
        assert isinstance(transit_key, TransitKey)
        from dteg.security.vault import transit_decrypt

        results = transit_decrypt(transit_key.config, [payload for _, payload in items])
        for (i, _), result in zip(items, results, strict=True):
            if isinstance(result, bytes):
                out[i] = _text(result, i, failures)
            else:
                failures[i] = (f"Vault transit key `{transit_key.config.key_name}` refused "
                               f"it: {result}")
    return Decrypted(out, failures, shredded)


def _text(plain: bytes, index: int, failures: dict[int, str]) -> str | None:
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        failures[index] = "decrypted to bytes that are not UTF-8 text"
        return None
