"""The registry's metadata in MongoDB (pymongo): components, versions, publishers and their
keys and tokens, advisories (OSV) and download counts.

Collections, keyed so that MongoDB's unique ``_id`` is the one guard against races:
``components`` (``_id`` = name), ``versions`` (``_id`` = ``name@version``: two publishes of
one version cannot both win), ``publishers`` (``_id`` = name, only a token's sha256 is kept),
``keys`` (``_id`` = key id), ``advisories`` (``_id`` = OSV id), ``downloads`` (``_id`` =
``name@version@day``, incremented atomically), ``meta`` (``_id`` = ``components``: a counter
bumped by every change to ``components``, so a search reads one small document instead of
every component while nothing changed — FerretDB takes ~1.4 s to return 1,000). Queries stay
within what FerretDB 1.24 (the server the tests use) implements: equality filters, ``$in``,
``$inc`` upserts, sorts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from dteg.errors import ConfigError, ConnectorError


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def token_digest(token: str) -> str:
    """What the registry keeps of a publisher token (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Conflict(Exception):
    """A version that already exists (two publishes of one version)."""


class MetadataStore:
    """Component metadata in one MongoDB database. ``url`` is a ``mongodb://`` URL."""

    def __init__(self, url: str, database: str = "dteg_marketplace") -> None:
        try:
            import pymongo
        except ImportError:
            raise ConfigError("the marketplace registry needs pymongo",
                              hint="Install it with `pip install 'dteg[marketplace]'`.") from None
        self._pymongo = pymongo
        # serverSelectionTimeoutMS: a wrong URL fails in seconds with a clear error, not 30 s.
        self._client: Any = pymongo.MongoClient(url, serverSelectionTimeoutMS=10_000, tz_aware=True)
        self._db = self._client[database]
        self.url_for_errors = url.split("@")[-1]  # no credentials in messages
        # (generation, every component document) as last read; see ``components``.
        self._listing: tuple[int, list[dict[str, Any]]] | None = None

    def ping(self) -> None:
        """Fail with a ConnectorError when the database does not answer."""
        try:
            self._db.command("ping")
        except Exception as exc:
            raise ConnectorError(
                f"the marketplace database at {self.url_for_errors} does not answer "
                f"({type(exc).__name__})",
                hint="Start it (scripts/services/ferretdb start) or fix DTEG_MONGODB_URL.",
                retriable=True) from None

    def close(self) -> None:
        self._client.close()

    @property
    def db(self) -> Any:
        """The pymongo database, for the registry modules that own their collections
        (accounts, reviews, signals, support)."""
        return self._db

    @property
    def duplicate_key_error(self) -> type[Exception]:
        """What pymongo raises when a unique key (``_id``) refuses a second document."""
        error: type[Exception] = self._pymongo.errors.DuplicateKeyError
        return error

    # --- publishers, tokens, keys --------------------------------------------------------

    def create_publisher(self, name: str, *, official: bool = False) -> str:
        """A new publisher (or a new token for an existing one); returns the token once."""
        token = "dtegpub_" + secrets.token_urlsafe(32)
        self._db.publishers.update_one(
            {"_id": name},
            {"$set": {"token_sha256": token_digest(token), "official": official},
             "$setOnInsert": {"created_at": _now()}}, upsert=True)
        return token

    def publisher_of_token(self, token: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._db.publishers.find_one(
            {"token_sha256": token_digest(token)})
        return found

    def publisher(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._db.publishers.find_one({"_id": name})
        return found

    def set_publisher_verified(self, name: str, verified: bool) -> bool:
        """Mark a publisher verified (by the admin) on it and on its components (which badges
        read); False when there is no such publisher."""
        if self._db.publishers.update_one({"_id": name},
                                          {"$set": {"verified": verified}}).matched_count == 0:
            return False
        self._db.components.update_many({"publisher": name},
                                        {"$set": {"publisher_verified": verified}})
        self.changed()
        return True

    def add_key(self, publisher: str, key_id: str, public_key: str) -> dict[str, Any]:
        doc = {"_id": key_id, "publisher": publisher, "public_key": public_key,
               "added_at": _now()}
        self._db.keys.replace_one({"_id": key_id}, doc, upsert=True)
        return doc

    def keys(self, publisher: str) -> list[dict[str, Any]]:
        return list(self._db.keys.find({"publisher": publisher}).sort("_id", 1))

    # --- components and versions ---------------------------------------------------------

    def insert_version(self, doc: dict[str, Any]) -> None:
        """Store one published version; ``Conflict`` when it exists already."""
        try:
            self._db.versions.insert_one({"_id": f"{doc['name']}@{doc['version']}", **doc})
        except self._pymongo.errors.DuplicateKeyError:
            raise Conflict(f"{doc['name']} {doc['version']}") from None

    def upsert_component(self, name: str, fields: dict[str, Any]) -> None:
        self._db.components.update_one(
            {"_id": name}, {"$set": fields,
                            "$setOnInsert": {"downloads": 0, "rating_sum": 0, "rating_count": 0}},
            upsert=True)
        self.changed()

    def changed(self) -> None:
        """Bump the components generation after a change to a component document."""
        # After the write: a reader that sees the new generation also sees the change.
        self._db.meta.update_one({"_id": "components"}, {"$inc": {"generation": 1}},
                                 upsert=True)

    def _generation(self) -> int:
        doc = self._db.meta.find_one({"_id": "components"})
        return int((doc or {}).get("generation") or 0)

    def component(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._db.components.find_one({"_id": name})
        return found

    def components(self, *, kind: str | None = None,
                   category: str | None = None) -> list[dict[str, Any]]:
        """Component documents (filtered), from the listing this process read last while no
        registry process changed a component since (one ``meta`` read instead of all)."""
        generation = self._generation()
        if self._listing is None or self._listing[0] != generation:
            self._listing = (generation, list(self._db.components.find({})))
        return [dict(d) for d in self._listing[1]
                if (not kind or d.get("kind") == kind)
                and (not category or d.get("category") == category)]

    def component_names(self) -> list[str]:
        return sorted(d["_id"] for d in self._db.components.find({}, {"_id": 1}))

    def versions(self, name: str) -> list[dict[str, Any]]:
        return list(self._db.versions.find({"name": name}))

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._db.versions.find_one({"_id": f"{name}@{version}"})
        return found

    # --- downloads -----------------------------------------------------------------------

    def count_download(self, name: str, version: str) -> None:
        day = _now().date().isoformat()
        self._db.downloads.update_one(
            {"_id": f"{name}@{version}@{day}"},
            {"$inc": {"count": 1}, "$setOnInsert": {"name": name, "version": version, "day": day}},
            upsert=True)
        # Per component and day too, so the last 30 days are 30 key reads, not a scan.
        self._db.downloads_daily.update_one(
            {"_id": f"{name}@{day}"}, {"$inc": {"count": 1}}, upsert=True)
        self._db.components.update_one(
            {"_id": name}, {"$inc": {"downloads": 1},
                            "$set": {"downloads_month": self.downloads_month(name)}})
        self.changed()

    def downloads_month(self, name: str) -> int:
        """Downloads of ``name`` over the last 30 days (today included)."""
        today = _now().date()
        keys = [f"{name}@{(today - dt.timedelta(days=n)).isoformat()}" for n in range(30)]
        return sum(int(d.get("count") or 0)
                   for d in self._db.downloads_daily.find({"_id": {"$in": keys}}))

    def downloads(self, name: str) -> dict[str, Any]:
        since = (_now().date() - dt.timedelta(days=30)).isoformat()
        total, recent = 0, 0
        by_version: dict[str, int] = {}
        by_month: dict[str, int] = {}
        for doc in self._db.downloads.find({"name": name}):
            total += doc["count"]
            by_version[doc["version"]] = by_version.get(doc["version"], 0) + doc["count"]
            by_month[doc["day"][:7]] = by_month.get(doc["day"][:7], 0) + doc["count"]
            if doc["day"] >= since:
                recent += doc["count"]
        return {"total": total, "last_30_days": recent, "by_version": by_version,
                "by_month": dict(sorted(by_month.items()))}

    # --- advisories (OSV) ----------------------------------------------------------------

    def put_advisory(self, advisory: dict[str, Any]) -> None:
        self._db.advisories.replace_one({"_id": advisory["id"]},
                                        {"_id": advisory["id"], **advisory}, upsert=True)

    def advisories(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if k != "_id"}
                for d in self._db.advisories.find({}).sort("_id", 1)]
