"""The real Kafka broker for the integration tests (``scripts/services/kafka``) and helpers to
create topics and produce test data. With CI=true a broker that does not start fails the
tests; elsewhere they are skipped with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.service_guard import service_unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "services" / "kafka"


def service(*args: str, timeout: float = 300, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, check=False, env={**os.environ, **(env or {})})


def private_broker_env(name: str, port: int) -> dict[str, str]:
    """Settings for a second broker of the service script (its own ports and folder), for
    tests that stop and start a broker: the shared one stays up for other tests."""
    services = os.environ.get("DTEG_SERVICES_DIR", "/tmp/dteg-services")
    return {"DTEG_KAFKA_PORT": str(port), "DTEG_KAFKA_CONTROLLER_PORT": str(port + 1),
            "DTEG_KAFKA_DIR": f"{services}/{name}", "DTEG_KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m"}


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Start the broker (idempotent) and export DTEG_KAFKA_* like `eval "$(kafka env)"`."""
    started = service("start")
    for _ in range(20):  # another test session may be starting or restarting it right now
        if started.returncode == 0:
            break
        time.sleep(3)
        started = service("start")
    if started.returncode != 0:
        service_unavailable(f"scripts/services/kafka start failed:\n{started.stderr[-3000:]}")
    for line in service("env").stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ[key] = value
    return os.environ["DTEG_KAFKA_BOOTSTRAP_SERVERS"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions,
                                            replication_factor=1)])
    futures[name].result(timeout=30)
    return name


def produce(bootstrap: str, topic: str, values: Iterable[bytes | str | dict[str, Any] | None],
            *, keys: Iterable[bytes | str | None] | None = None,
            partition: int | None = None, headers: list[tuple[str, bytes]] | None = None,
            timestamps: Iterable[int] | None = None) -> int:
    """Produce and wait until every message is acknowledged; returns how many."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 20, "batch.size": 1_000_000,
                         "compression.type": "lz4"})
    failures: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    key_list = list(keys) if keys is not None else None
    stamps = list(timestamps) if timestamps is not None else None
    count = 0
    for i, value in enumerate(values):
        if isinstance(value, dict):
            value = json.dumps(value)
        kwargs: dict[str, Any] = {"on_delivery": report}
        if key_list is not None and key_list[i] is not None:
            kwargs["key"] = key_list[i]
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = headers
        if stamps is not None:
            kwargs["timestamp"] = stamps[i]
        while True:
            try:
                producer.produce(topic, value, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0, "messages left undelivered"
    assert not failures, failures[:3]
    return count


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition (-1001: none)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        asked = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(asked, timeout=10)}
    finally:
        consumer.close()


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    """Every message of ``topic`` from the beginning (stops at ``expected`` or timeout)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("check"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for m in consumer.consume(10_000, timeout=1.0):
                if m.error() is None:
                    messages.append(m)
    finally:
        consumer.close()
    return messages
