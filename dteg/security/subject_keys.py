"""Per-subject data keys, so that one data subject's values can be erased by destroying their
key (crypto-shredding) where rows cannot be deleted one by one (files, Kafka topics).

The keystore is a SQLite file (default ``<pipeline folder>/.dteg/subject_keys.sqlite``). Each
subject gets a random 256-bit data key, stored only wrapped: AES-256-GCM under the keyring's
encrypting (master) key, the row's key id as associated data. A subject is found by
``lookup`` = HMAC-SHA256 of ``column \\0 value`` under a sub-key of the master key, so the file
holds neither a subject's value nor a usable key without the master key. Values encrypted with
a data key name its id (``dteg:v1:s.<hex>:…``), never the subject.

Shredding deletes the wrapped key and the lookup (the row stays as a tombstone with the time),
so nothing left links the id to the subject and no copy of the key exists: every value sealed
with it, in every dataset and topic, is unreadable for good. New rows of the same subject after
an erasure are new processing and get a new key.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import sqlite3
import threading
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from dteg.errors import ConfigError
from dteg.security.keys import Keyring, LocalKey

SUBJECT_KEY_PREFIX = "s."
DEFAULT_KEYSTORE = ".dteg/subject_keys.sqlite"
_NONCE = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (
    key_id      TEXT PRIMARY KEY,
    lookup      TEXT UNIQUE,
    master_id   TEXT NOT NULL,
    wrapped     BLOB,
    created_at  TEXT NOT NULL,
    shredded_at TEXT
)
"""


class Shredded:
    """The answer for a key that was destroyed: its values decrypt to null."""

    def __repr__(self) -> str:
        return "SHREDDED"


SHREDDED = Shredded()


def is_subject_key(key_id: str) -> bool:
    return key_id.startswith(SUBJECT_KEY_PREFIX)


def keystore_path(base_dir: Path, configured: str | None) -> Path:
    """The keystore a step uses: ``keystore:`` (relative to the pipeline's folder) or the
    default under ``.dteg``."""
    path = Path(configured or DEFAULT_KEYSTORE).expanduser()
    return path if path.is_absolute() else base_dir / path


@dataclass
class ShredResult:
    key_id: str | None  # None: the subject never had a key here
    keystore: Path


class SubjectKeystore:
    """Data keys by subject, wrapped under the master key of ``ring`` (a local key)."""

    def __init__(self, path: Path, ring: Keyring) -> None:
        master = ring.encrypting
        if not isinstance(master, LocalKey) or not master.material_index:
            raise ConfigError(
                f"per-subject keys need a local master key; key `{master.id}` is a Vault "
                "transit key", hint="Give the encrypt step a local key (key, env, file or "
                "vault KV) as the first key of its keyring.")
        self.path = path
        self.ring = ring
        self.master = master
        self._index_key = master.material_index
        self._cache: dict[str, LocalKey | Shredded] = {}
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=60, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"SubjectKeystore({str(self.path)!r})"

    def close(self) -> None:
        self._db.close()

    def lookup(self, column: str, value: str) -> str:
        return hmac.new(self._index_key, f"{column}\0{value}".encode(), sha256).hexdigest()

    def key_for(self, column: str, value: str) -> LocalKey:
        """The subject's data key, made (and stored wrapped) on first sight."""
        lookup = self.lookup(column, value)
        with self._lock:
            row = self._db.execute("SELECT key_id, master_id, wrapped FROM subject_keys "
                                   "WHERE lookup = ?", (lookup,)).fetchone()
            if row is None:
                key_id = SUBJECT_KEY_PREFIX + os.urandom(12).hex()
                material = os.urandom(32)
                nonce = os.urandom(_NONCE)
                wrapped = nonce + self.master.gcm.encrypt(nonce, material, key_id.encode())
                # Two workers may meet a new subject at once: the first insert wins and both
                # read back the same key.
                self._db.execute(
                    "INSERT OR IGNORE INTO subject_keys (key_id, lookup, master_id, wrapped, "
                    "created_at) VALUES (?, ?, ?, ?, ?)",
                    (key_id, lookup, self.master.id, wrapped, _now()))
                row = self._db.execute("SELECT key_id, master_id, wrapped FROM subject_keys "
                                       "WHERE lookup = ?", (lookup,)).fetchone()
        found = self._unwrap(*row)
        assert isinstance(found, LocalKey)
        return found

    def get(self, key_id: str) -> LocalKey | Shredded | None:
        """The data key ``key_id`` names; SHREDDED once destroyed; None if never stored."""
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        with self._lock:
            row = self._db.execute("SELECT key_id, master_id, wrapped FROM subject_keys "
                                   "WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else self._unwrap(*row)

    def shred(self, column: str, value: str) -> ShredResult:
        """Destroy the subject's data key (and the lookup that names the subject)."""
        lookup = self.lookup(column, value)
        with self._lock:
            row = self._db.execute("SELECT key_id FROM subject_keys WHERE lookup = ?",
                                   (lookup,)).fetchone()
            if row is None:
                return ShredResult(None, self.path)
            self._db.execute("UPDATE subject_keys SET wrapped = NULL, lookup = NULL, "
                             "shredded_at = ? WHERE key_id = ?", (_now(), row[0]))
            self._cache.pop(row[0], None)
        # WAL pages may still hold the wrapped key: fold them into the file and drop them.
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.execute("VACUUM")
        return ShredResult(row[0], self.path)

    def _unwrap(self, key_id: str, master_id: str, wrapped: bytes | None
                ) -> LocalKey | Shredded:
        if wrapped is None:
            self._cache[key_id] = SHREDDED
            return SHREDDED
        master = self.ring.get(master_id)
        if not isinstance(master, LocalKey):
            raise ConfigError(
                f"subject key `{key_id}` in {self.path} is wrapped with master key "
                f"`{master_id}`, which the keyring does not hold",
                hint="Keep retired master keys in the keyring (`keys:`) until no subject key "
                "wrapped with them is left.")
        from cryptography.exceptions import InvalidTag

        try:
            material = master.gcm.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], key_id.encode())
        except InvalidTag:
            raise ConfigError(
                f"subject key `{key_id}` in {self.path} does not open with master key "
                f"`{master_id}`: the master key is not the one it was wrapped with, or the "
                "keystore was altered", hint="Use the master key the pipeline encrypted "
                "with.") from None
        key = LocalKey.from_material(key_id, material)
        self._cache[key_id] = key
        return key


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
