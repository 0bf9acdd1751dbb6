from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dteg.auth.service import AuthService
from dteg.auth.settings import AuthSettings
from dteg.orchestrator.store.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(tmp_path: Path, clock: Clock) -> Iterator[AuthService]:
    store = Store.open(f"sqlite:///{tmp_path / 'server.sqlite'}")
    service = AuthService(store.engine, AuthSettings(admin_password="correct horse battery"),
                          clock=clock)
    service.bootstrap(lambda _text: None)
    yield service
    store.close()
