"""The real Redis server for the integration tests (``scripts/services/redis``): the broker of
``dteg worker`` and the orchestrator's Celery tests. With CI=true a server that does not start
fails the tests; elsewhere they are skipped with the reason.

Use it with ``from tests.integration.redis_service import redis_server  # noqa: F401`` and
take the fixture: a dict of what ``scripts/services/redis env`` prints (``DTEG_REDIS_URL``,
``DTEG_REDIS_HOST``, ``DTEG_REDIS_PORT``).
"""

from __future__ import annotations

import pytest

from tests.integration.databases import REPO
from tests.integration.databases import _start as start_service

SCRIPT = REPO / "scripts" / "services" / "redis"


@pytest.fixture(scope="session")
def redis_server() -> dict[str, str]:
    """Starts the shared Redis (a no-op when it runs) and returns its env."""
    return start_service("redis")
