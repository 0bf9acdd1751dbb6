"""The real Kafka broker for the integration tests (``scripts/services/kafka``) and helpers to
create topics and produce test data. With CI=true a broker that does not start fails the
tests; elsewhere they are skipped with the reason.

Every helper that talks to the broker goes through ``retrying``: on a busy machine a broker
answers NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, LEADER_NOT_AVAILABLE, a timeout … for
a while (after its start, a restart, a new topic or a new group), and that is not what a test
checks."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.integration.service_guard import service_unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "services" / "kafka"
# How long a helper keeps retrying a transient broker answer (seconds).
BROKER_DEADLINE = 120.0
T = TypeVar("T")

# Answers a broker gives for a while and then stops giving (librdkafka's own names; the
# error's retriable() flag covers more). NOT_LEADER_FOR_PARTITION is NOT_LEADER_OR_FOLLOWER.
TRANSIENT = frozenset({
    "NOT_COORDINATOR", "COORDINATOR_LOAD_IN_PROGRESS", "COORDINATOR_NOT_AVAILABLE",
    "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION", "NOT_LEADER_OR_FOLLOWER",
    "REQUEST_TIMED_OUT", "NETWORK_EXCEPTION", "BROKER_NOT_AVAILABLE", "NOT_ENOUGH_REPLICAS",
    "REBALANCE_IN_PROGRESS", "FENCED_LEADER_EPOCH", "UNKNOWN_LEADER_EPOCH",
    "OFFSET_NOT_AVAILABLE", "UNSTABLE_OFFSET_COMMIT", "KAFKA_STORAGE_ERROR",
    "UNKNOWN_TOPIC_OR_PART",  # right after a create, until the metadata has spread
    "_TRANSPORT", "_TIMED_OUT", "_TIMED_OUT_QUEUE", "_ALL_BROKERS_DOWN", "_WAIT_COORD",
    "_UNKNOWN_PARTITION", "_UNKNOWN_TOPIC", "_RESOLVE", "_MSG_TIMED_OUT",
})


class TransientBrokerAnswer(Exception):
    """A broker answer to ask again, found in a result rather than raised (a partition's
    or a topic's error field)."""


def transient_error(err: Any) -> bool:
    """True for a KafkaError that is retriable or one of TRANSIENT."""
    from confluent_kafka import KafkaError

    return isinstance(err, KafkaError) and (bool(err.retriable()) or err.name() in TRANSIENT)


def is_transient(exc: BaseException) -> bool:
    """True for a TransientBrokerAnswer or a KafkaException with a transient KafkaError."""
    from confluent_kafka import KafkaException

    if isinstance(exc, TransientBrokerAnswer):
        return True
    return isinstance(exc, KafkaException) and bool(exc.args) and transient_error(exc.args[0])


def check(err: Any, what: str) -> None:
    """Raise for an error field of a result (None: no error): TransientBrokerAnswer when it
    is worth asking again, KafkaException otherwise."""
    from confluent_kafka import KafkaError, KafkaException

    if err is None or (isinstance(err, KafkaError) and err.code() == KafkaError.NO_ERROR):
        return
    if transient_error(err):
        raise TransientBrokerAnswer(f"{what}: {err}")
    raise KafkaException(err)


def retrying(what: str, call: Callable[[], T], deadline: float = BROKER_DEADLINE) -> T:
    """``call()``, asked again after a transient broker answer (see ``is_transient``) until
    ``deadline`` seconds have passed; then the last error is raised with ``what`` and how
    long it was tried. Any other exception is raised at once."""
    end = time.monotonic() + deadline
    pause = 0.2
    tries = 0
    while True:
        tries += 1
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if time.monotonic() + pause > end:
                raise AssertionError(f"{what}: the broker still answered {exc} after {tries} "
                                     f"tries in {deadline:.0f} s") from exc
        time.sleep(pause)
        pause = min(pause * 2, 3.0)


def service(*args: str, timeout: float = 900, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run scripts/services/kafka. The script bounds its own waits (DTEG_SERVICE_TIMEOUT); the
    timeout here only stops a hung script (whose broker `stop` then still finds)."""
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
    # Two sessions' starts and stops take turns on the script's lock; a start that still
    # fails (another session restarted the broker meanwhile) is tried again for a while.
    deadline = time.monotonic() + 600
    started = service("start")
    while started.returncode != 0 and time.monotonic() < deadline:
        time.sleep(5)
        started = service("start")
    if started.returncode != 0:
        service_unavailable(f"scripts/services/kafka start failed:\n{started.stderr[-3000:]}")
    for line in service("env").stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ[key] = value
    bootstrap = os.environ["DTEG_KAFKA_BOOTSTRAP_SERVERS"]
    retrying(f"metadata from {bootstrap}",
             lambda: _admin(bootstrap).list_topics(timeout=10))  # it answers
    return bootstrap


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _admin(bootstrap: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> str:
    """Create ``name`` and wait until every partition has a leader, so that a pipeline
    started right after it does not meet UNKNOWN_TOPIC_OR_PART or LEADER_NOT_AVAILABLE."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    admin = _admin(bootstrap)

    def create() -> None:
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions,
                                                replication_factor=1)],
                                      operation_timeout=30, request_timeout=30)
        try:
            futures[name].result(timeout=60)
        except KafkaException as exc:
            # An earlier try timed out after the broker had created it.
            if not (exc.args and isinstance(exc.args[0], KafkaError)
                    and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise

    def ready() -> None:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        if topic is None:
            raise TransientBrokerAnswer(f"{name} is not in the metadata yet")
        check(topic.error, f"metadata of {name}")
        if len(topic.partitions) != partitions:
            raise TransientBrokerAnswer(f"{name} has {len(topic.partitions)} of "
                                        f"{partitions} partitions in the metadata")
        for p in topic.partitions.values():
            check(p.error, f"{name}/{p.id}")
            if p.leader < 0:
                raise TransientBrokerAnswer(f"{name}/{p.id} has no leader yet")

    retrying(f"create topic {name}", create)
    retrying(f"metadata of the new topic {name}", ready)
    return name


def produce(bootstrap: str, topic: str, values: Iterable[bytes | str | dict[str, Any] | None],
            *, keys: Iterable[bytes | str | None] | None = None,
            partition: int | None = None, headers: list[tuple[str, bytes]] | None = None,
            timestamps: Iterable[int] | None = None, deadline: float = BROKER_DEADLINE) -> int:
    """Produce and wait until every message is acknowledged; returns how many.

    The producer is idempotent and retries transient broker answers itself for up to
    ``deadline`` seconds per message (``delivery.timeout.ms``), without duplicates; a
    message it still could not deliver then fails the test."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 20, "batch.size": 1_000_000,
                         "compression.type": "lz4",
                         "delivery.timeout.ms": int(deadline * 1000),
                         "request.timeout.ms": 30_000})
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
    # Every message ends in the callback within delivery.timeout.ms: acknowledged or failed.
    end = time.monotonic() + deadline + 30
    left = producer.flush(1)
    while left and time.monotonic() < end:
        left = producer.flush(1)
    assert left == 0, f"{left} of {count} messages to {topic} neither delivered nor failed " \
                      f"after {deadline + 30:.0f} s"
    assert not failures, f"{len(failures)} of {count} messages to {topic} failed: {failures[:3]}"
    return count


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition (-1001: none)."""
    from confluent_kafka import Consumer, TopicPartition

    def ask() -> dict[int, int]:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                             "enable.auto.commit": False})
        try:
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if meta is None:
                raise TransientBrokerAnswer(f"{topic} is not in the metadata")
            check(meta.error, f"metadata of {topic}")
            if not meta.partitions:
                raise TransientBrokerAnswer(f"{topic} has no partitions in the metadata yet")
            asked = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
            offsets = consumer.committed(asked, timeout=10)
            for tp in offsets:
                check(tp.error, f"committed offset of {group} on {topic}/{tp.partition}")
            return {tp.partition: tp.offset for tp in offsets}
        finally:
            consumer.close()

    return retrying(f"committed offsets of group {group} on {topic}", ask)



def wait_committed(bootstrap: str, group: str, topic: str, at_least: int,
                   proc: subprocess.Popen[bytes], timeout: float = 240,
                   log: Path | None = None) -> int:
    """Wait until ``group`` committed at least ``at_least`` offsets of ``topic`` (summed over
    partitions) while the stream ``proc`` runs; the count. Fails if the stream exits first
    (with its ``log``'s tail when given) or nothing gets there in ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(max(v, 0) for v in committed(bootstrap, group, topic).values())
        if done >= at_least:
            return done
        tail = f":\n{log.read_text()[-3000:]}" if log is not None else ""
        assert proc.poll() is None, f"the stream exited early{tail}"
        time.sleep(0.2)
    raise AssertionError(f"the stream did not commit {at_least} records in {timeout} s")

def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = BROKER_DEADLINE
                ) -> list[Any]:
    """Every message of ``topic`` from the beginning (stops at ``expected`` or timeout).
    The consumer rides out transient errors itself (they arrive as messages with an error,
    skipped here); any other error fails the test."""
    from confluent_kafka import Consumer, KafkaException

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
                elif not transient_error(m.error()):
                    raise KafkaException(m.error())
    finally:
        consumer.close()
    return messages
