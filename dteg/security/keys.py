"""Where encryption keys come from, and the keyring a stage holds on a worker.

A key is named by an id (written into every value it encrypts, so keys can rotate) and comes
from exactly one source:

* ``key:``      the key text in the pipeline (use ``${env:…}`` or ``${file:…}``);
* ``env:``      the name of an environment variable, read on the worker at run time;
* ``file:``     a file read on the worker at run time;
* ``vault:``    a field of a HashiCorp Vault KV v2 secret (read with hvac);
* ``transit:``  a Vault transit key: values are encrypted and decrypted by Vault itself.

``env:``, ``file:`` and ``vault:`` keep the key out of the compiled Beam graph; ``key:`` puts
the resolved text into the step's config (fine on the embedded runner). Key text is UTF-8 bytes,
or ``base64:…`` / ``hex:…`` for binary keys, at least 16 bytes; the AES keys are derived from it
with HKDF-SHA256 (``info = "dteg:v1:aes-256-gcm"`` or ``"dteg:v1:aes-siv"``), so one key text
serves both encryption and tokenization. No key text ever appears in a message.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from dteg.errors import ConfigError
from dteg.spec.keyring import DEFAULT_KEY_ID, KeyConfig, VaultTransit

# The models of `security.keys` live in the spec layer; other modules import them from here.
from dteg.spec.keyring import KEY_ID_PATTERN as KEY_ID_PATTERN
from dteg.spec.keyring import VaultConnection as VaultConnection
from dteg.spec.keyring import VaultKV as VaultKV
from dteg.spec.models import DEFAULT_KEY_ENV

MIN_KEY_BYTES = 16


def keyring_configs(key: SecretStr | None, key_id: str,
                    keys: list[KeyConfig] | None) -> list[KeyConfig]:
    """The keyring a stage config describes: ``keys:``, else ``key:`` + ``key_id:``, else the
    ``DTEG_ENCRYPTION_KEY`` environment variable."""
    if keys:
        return list(keys)
    if key is not None:
        return [KeyConfig(id=key_id, key=key)]
    return [KeyConfig(id=key_id, env=DEFAULT_KEY_ENV)]


def parse_key_text(text: str, *, where: str) -> bytes:
    """Key text → bytes: ``base64:…``, ``hex:…`` or the UTF-8 bytes of the text."""
    text = text.strip()
    try:
        if text.startswith("base64:"):
            material = base64.b64decode(text[len("base64:"):], validate=True)
        elif text.startswith("hex:"):
            material = bytes.fromhex(text[len("hex:"):])
        else:
            material = text.encode("utf-8")
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"the key from {where} is not valid {text.split(':', 1)[0]}",
            hint="Fix the encoding, or give the key as plain text. A new key: "
            "`openssl rand -base64 32` (then write it as `base64:<output>`).",
        ) from None
    if len(material) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the key from {where} is {len(material)} bytes; at least {MIN_KEY_BYTES} are "
            "needed", hint="Use a longer key, e.g. `base64:` followed by the output of "
            "`openssl rand -base64 32`.",
        )
    return material


def derive(material: bytes, purpose: str, length: int) -> bytes:
    """A sub-key for one purpose (HKDF-SHA256, no salt, ``info = "dteg:v1:<purpose>"``)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                info=f"dteg:v1:{purpose}".encode()).derive(material)


@dataclass
class LocalKey:
    """A key whose bytes this process holds: AES-256-GCM and AES-SIV (512-bit) ciphers."""

    id: str
    gcm: Any
    siv: Any
    # The HMAC key that finds subjects in a per-subject keystore (``subject_keys``).
    material_index: bytes = b""

    def __repr__(self) -> str:  # never show key material
        return f"LocalKey(id={self.id!r})"

    @classmethod
    def from_material(cls, key_id: str, material: bytes) -> LocalKey:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

        return cls(key_id, AESGCM(derive(material, "aes-256-gcm", 32)),
                   AESSIV(derive(material, "aes-siv", 64)),
                   derive(material, "subject-index", 32))


@dataclass
class TransitKey:
    """A Vault transit key: encryption happens in Vault."""

    id: str
    config: VaultTransit

    def __repr__(self) -> str:
        return f"TransitKey(id={self.id!r}, key_name={self.config.key_name!r})"


Key = LocalKey | TransitKey


@dataclass
class Keyring:
    """Keys by id; the first one encrypts, all of them decrypt (rotation)."""

    keys: dict[str, Key] = field(default_factory=dict)
    primary: str = DEFAULT_KEY_ID

    def __repr__(self) -> str:
        return f"Keyring(ids={list(self.keys)}, primary={self.primary!r})"

    def get(self, key_id: str) -> Key | None:
        return self.keys.get(key_id)

    @property
    def encrypting(self) -> Key:
        return self.keys[self.primary]

    @classmethod
    def load(cls, configs: list[KeyConfig], *, base_dir: Path | None = None,
             environ: dict[str, str] | None = None) -> Keyring:
        """Resolve every key (reads env, files and Vault now)."""
        env = os.environ if environ is None else environ
        ring = cls(primary=configs[0].id)
        for config in configs:
            if config.id in ring.keys:
                raise ConfigError(f"two keys have the id `{config.id}`",
                                  hint="Give each key of the keyring its own `id:`.")
            if config.transit is not None:
                ring.keys[config.id] = TransitKey(config.id, config.transit)
                continue
            text = _key_text(config, base_dir=base_dir, environ=env)
            material = parse_key_text(text, where=f"key `{config.id}` ({config.source()})")
            ring.keys[config.id] = LocalKey.from_material(config.id, material)
        return ring


def _key_text(config: KeyConfig, *, base_dir: Path | None,
              environ: Any) -> str:
    if config.key is not None:
        return config.key.get_secret_value()
    if config.env is not None:
        value = environ.get(config.env)
        if not value:
            raise ConfigError(
                f"key `{config.id}`: the environment variable `{config.env}` is not set",
                hint=f"Export it (`export {config.env}=base64:$(openssl rand -base64 32)`), "
                "or name the key in the pipeline (`security.encryption_key: ${env:…}`).",
            )
        return str(value)
    if config.file is not None:
        path = Path(config.file).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"key `{config.id}`: cannot read the key file {path}: {exc.strerror or exc}",
                hint="Relative paths are taken from the pipeline file's folder.",
            ) from None
    assert config.vault is not None
    from dteg.security.vault import read_kv_field

    return read_kv_field(config.vault, key_id=config.id)
