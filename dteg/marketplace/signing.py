"""Ed25519 publisher keys: generate, store (0600), sign artifacts, verify signatures.

What is signed is ``message(filename, sha256_hex)``: the artifact's file name (which holds the
component's name and version) and its sha256, so a signature cannot be moved to another
artifact or another version. Keys and signatures travel as standard base64 (32-byte raw public
key, 64-byte signature); the registry keeps each publisher's public keys.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dteg.errors import ConfigError


def default_key_path() -> Path:
    """``$DTEG_PUBLISHER_KEY`` or ``~/.config/dteg/publisher.key``."""
    configured = os.environ.get("DTEG_PUBLISHER_KEY")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".config" / "dteg" / "publisher.key"


def message(filename: str, sha256_hex: str) -> bytes:
    """The bytes a publisher signs for one artifact."""
    return f"{filename}\n{sha256_hex}\n".encode("ascii")


def key_id(publisher: str, raw_public_key: bytes) -> str:
    """``publisher:`` and the first 16 hex characters of the public key's sha256."""
    return f"{publisher}:{hashlib.sha256(raw_public_key).hexdigest()[:16]}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class PublisherKey:
    """A publisher's private key (never printed: ``repr`` shows the public half only)."""

    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode("ascii")

    def key_id(self, publisher: str) -> str:
        return key_id(publisher, self.public_raw)

    def sign(self, data: bytes) -> str:
        """The base64 Ed25519 signature of ``data``."""
        return base64.b64encode(self.private.sign(data)).decode("ascii")

    def sign_file(self, path: Path) -> dict[str, str]:
        """``{"sha256", "signature"}`` of an artifact file."""
        sha = file_sha256(path)
        return {"sha256": sha, "signature": self.sign(message(path.name, sha))}

    def __repr__(self) -> str:
        return f"PublisherKey(public={self.public_b64})"


def generate_key() -> PublisherKey:
    return PublisherKey(Ed25519PrivateKey.generate())


def save_key(key: PublisherKey, path: Path, *, overwrite: bool = False) -> Path:
    """Write the private key as PEM (PKCS#8) readable by its owner only (0600)."""
    if path.exists() and not overwrite:
        raise ConfigError(f"a publisher key already exists at {path}",
                          hint="Keep it (it is the key the registry knows), or pass --force "
                          "to replace it and register the new public key.")
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    # Created with 0600 from the start: a chmod after writing would leave a window.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(pem)
    os.chmod(path, 0o600)  # O_CREAT keeps an existing file's mode
    return path


def load_key(path: Path) -> PublisherKey:
    """Read a private key, refusing one that others can read."""
    if not path.is_file():
        raise ConfigError(f"no publisher key at {path}",
                          hint="Create one with `dteg publisher-key generate` (or set "
                          "DTEG_PUBLISHER_KEY to its path).")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"the publisher key {path} is readable by others (mode {mode:o})",
                          hint=f"Run `chmod 600 {path}`.")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{path} is not a PEM private key",
                          hint="Create one with `dteg publisher-key generate --force`.") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key",
                          hint="Create one with `dteg publisher-key generate --force`.")
    return PublisherKey(private)


def verify(public_key_b64: str, signature_b64: str, data: bytes) -> bool:
    """Whether ``signature_b64`` is the publisher's signature of ``data``."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64,
                                                                     validate=True))
        public.verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_key(public_key_b64: str) -> bool:
    """Whether the text is a base64 raw 32-byte Ed25519 public key."""
    try:
        raw = base64.b64decode(public_key_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return False
    return len(raw) == 32
