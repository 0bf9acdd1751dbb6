"""The real MongoDB-protocol server for the integration tests: FerretDB
(``scripts/services/ferretdb``, SQLite backend). With CI=true a server that does not start
fails the tests; elsewhere they are skipped with the reason.

Use it with ``from tests.integration.mongodb_service import mongodb_server  # noqa: F401`` and
take the fixture: a dict of what ``scripts/services/ferretdb env`` prints
(``DTEG_MONGODB_URL``, ``DTEG_FERRETDB_HOST``, ``DTEG_FERRETDB_PORT``). ``mongo_db`` gives a
fresh database (dropped after the test) and sets ``DTEG_MONGODB_URL`` to it for pipelines.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.databases import REPO
from tests.integration.databases import _start as start_service

SCRIPT = REPO / "scripts" / "services" / "ferretdb"


@pytest.fixture(scope="session")
def mongodb_server() -> dict[str, str]:
    """Starts the shared FerretDB (a no-op when it runs; builds it once) and returns its env."""
    return start_service("ferretdb")


@pytest.fixture
def mongo_db(mongodb_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A pymongo ``Database`` of its own; its URL (``mongodb://host:port/<db>``) is in
    ``mongo_db.url`` and in DTEG_MONGODB_URL, its name in DTEG_MONGODB_DATABASE."""
    import pymongo

    name = f"t_{uuid.uuid4().hex[:10]}"
    base = mongodb_server["DTEG_MONGODB_URL"].rstrip("/")
    client: Any = pymongo.MongoClient(base + "/", serverSelectionTimeoutMS=30_000,
                                      tz_aware=True)
    db = client[name]
    url = f"{base}/{name}"
    monkeypatch.setenv("DTEG_MONGODB_URL", url)
    monkeypatch.setenv("DTEG_MONGODB_DATABASE", name)  # what pipelines/mongodb_orders.yaml reads
    db.url = url
    try:
        yield db
    finally:
        client.drop_database(name)
        client.close()
