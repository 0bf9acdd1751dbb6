"""Polling one partition at a time for the Beam-native stream (``PartitionPoller``): one
consumer per partition, kept between polls and assigned at an explicit offset, so a poll
continues where the last one stopped without re-fetching; a poll that starts elsewhere (a
restarted restriction) seeks. Nothing is ever committed here: offsets are committed by the
launcher once the sinks committed the rows (bundle finalization)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from dteg.connectors.kafka.client import kafka, with_logger
from dteg.connectors.kafka.ranges import TP


class PartitionConsumers:
    def __init__(self, settings: dict[str, Any], batch_seconds: float) -> None:
        self.settings = settings
        self.batch_seconds = batch_seconds
        self._lock = threading.Lock()
        self._consumers: dict[TP, tuple[Any, int]] = {}  # tp → (consumer, next offset)

    def _take(self, tp: TP, position: int) -> Any:
        with self._lock:
            consumer, at = self._consumers.pop(tp, (None, -1))
        if consumer is None:
            consumer = kafka().Consumer(with_logger(self.settings))
        if at != position:
            consumer.assign([kafka().TopicPartition(tp[0], tp[1], position)])
        return consumer

    def fetch(self, tp: TP, position: int, max_records: int, timeout: float,
              on_error: Any) -> list[Any]:
        """Messages from ``position``: wait up to ``timeout`` for the first, then gather
        for at most ``batch_seconds`` or ``max_records`` messages."""
        confluent = kafka()
        consumer = self._take(tp, position)
        got: list[Any] = []
        first_at: float | None = None
        deadline = time.monotonic() + timeout
        nxt = position
        try:
            while len(got) < max_records:
                now = time.monotonic()
                limit = deadline if first_at is None else first_at + self.batch_seconds
                if now >= limit:
                    break
                for message in consumer.consume(min(max_records - len(got), 10_000),
                                                timeout=min(limit - now, 0.2)):
                    error = message.error()
                    if error is not None:
                        if error.code() != confluent.KafkaError._PARTITION_EOF:
                            on_error(error)
                        continue
                    if message.offset() < nxt:
                        continue
                    got.append(message)
                    nxt = message.offset() + 1
                    first_at = first_at or time.monotonic()
        except BaseException:
            with contextlib.suppress(Exception):
                consumer.close()
            raise
        with self._lock:
            self._consumers[tp] = (consumer, nxt)
        return got

    def close(self) -> None:
        with self._lock:
            consumers = [c for c, _ in self._consumers.values()]
            self._consumers.clear()
        for consumer in consumers:
            with contextlib.suppress(Exception):
                consumer.close()
