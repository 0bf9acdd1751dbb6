"""What was delivered: one ``Delivery`` per alert and run event, and the ``AlertHistory`` the
dispatcher reads (when was this alert last sent?) and writes (what happened this time).

The orchestrator's store implements ``AlertHistory`` on its tables; ``MemoryAlertHistory``
serves the tests and a server without a store.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

DeliveryStatus = Literal["sent", "failed", "throttled"]


@dataclass(frozen=True)
class Delivery:
    """One alert for one run event: sent, failed (``error`` says why, one line, redacted)
    or throttled (the same alert was sent for this pipeline and event less than the throttle
    interval ago). ``alert_key`` names the alert without its secrets (``alert_key()``)."""

    pipeline: str
    run_id: str | None
    alert_key: str
    channel: str
    event: str
    status: DeliveryStatus
    error: str | None
    at: datetime


class AlertHistory(Protocol):
    """Where deliveries are kept. The dispatcher throttles on ``last_sent``."""

    def last_sent(self, pipeline: str, alert_key: str, event: str) -> datetime | None:
        """When a delivery of this alert for this pipeline and event last had status
        ``sent`` (failed and throttled ones do not count), or None."""
        ...

    def record(self, delivery: Delivery) -> None:
        """Keep ``delivery``."""
        ...


class MemoryAlertHistory:
    """An ``AlertHistory`` in memory (lost when the process ends); safe across threads."""

    def __init__(self) -> None:
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """Every delivery recorded, oldest first."""
        with self._lock:
            return tuple(self._deliveries)

    def last_sent(self, pipeline: str, alert_key: str, event: str) -> datetime | None:
        with self._lock:
            times = [d.at for d in self._deliveries
                     if d.status == "sent" and (d.pipeline, d.alert_key, d.event)
                     == (pipeline, alert_key, event)]
        return max(times, default=None)

    def record(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)
