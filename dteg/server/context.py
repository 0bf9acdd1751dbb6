"""What every route works with: the store, the catalog of pipeline files, and whether a
scheduler loop runs in this process. One ``ServerContext`` per app, on ``app.state``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dteg.auth.service import AuthService
from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.scheduler import Scheduler
from dteg.orchestrator.store.store import Store
from dteg.server.marketplace_registry import MarketplaceSettings

# Without a scheduler loop in the process (tests, `create_app` alone), the API re-reads the
# pipeline folder itself, at most this often.
RELOAD_EVERY_S = 2.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ServerContext:
    store: Store
    catalog: Catalog
    # The scheduler loop made a pass recently; None: no loop runs in this process, and the
    # API keeps the catalog (and the store's pipeline rows) current itself.
    scheduler_healthy: Callable[[], bool] | None = None
    ui_dir: Path | None = None
    metrics_render: Callable[[], tuple[bytes, str]] | None = None
    # Access control; None: switched off (a loopback address only, see dteg.server.serve).
    auth: AuthService | None = None
    clock: Callable[[], datetime] = utcnow
    # The marketplace registry the marketplace pages read (DTEG_MARKETPLACE_*).
    marketplace: MarketplaceSettings = field(default_factory=MarketplaceSettings.from_env)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock)
    _reloaded_at: float = 0.0

    @property
    def pipelines_dir(self) -> Path:
        return self.catalog.folder

    @property
    def owns_catalog(self) -> bool:
        return self.scheduler_healthy is None

    def current_catalog(self, force: bool = False) -> Catalog:
        """The catalog, re-read first when this process has no scheduler loop (the loop
        re-reads it every 2 s otherwise)."""
        if self.owns_catalog and (force or time.monotonic() - self._reloaded_at
                                  >= RELOAD_EVERY_S):
            with self._reload_lock:
                changes = self.catalog.refresh()
                Scheduler(self.store, self.catalog).sync(changes, self.clock())
                self._reloaded_at = time.monotonic()
        return self.catalog
