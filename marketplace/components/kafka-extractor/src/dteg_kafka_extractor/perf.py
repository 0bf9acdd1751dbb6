"""The performance test's input for a Kafka source: the standard rows, produced as JSON messages
to a fresh topic on $DTEG_KAFKA_BOOTSTRAP_SERVERS (e.g. `scripts/services/kafka env`)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any


def produce(batches: list[Any], work: Path) -> dict[str, str]:
    """Produce every row of ``batches`` to a new topic; returns its ``topic`` and ``bootstrap``."""
    from confluent_kafka import Producer

    bootstrap = os.environ.get("DTEG_KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        raise RuntimeError("set DTEG_KAFKA_BOOTSTRAP_SERVERS (scripts/services/kafka start; "
                           "eval \"$(scripts/services/kafka env)\")")
    topic = f"kafka-extractor-perf-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for batch in batches:
        for row in batch.to_pylist():
            producer.produce(topic, json.dumps(row).encode())
            producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError(f"could not deliver the perf rows to {topic} at {bootstrap}")
    return {"topic": topic, "bootstrap": bootstrap}
