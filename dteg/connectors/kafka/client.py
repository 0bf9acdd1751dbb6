"""confluent-kafka plumbing shared by the Kafka source, sink and ``dteg stream``: importing the
client with a helpful message and reaching the brokers with bounded retries."""

from __future__ import annotations

import logging
import time
from typing import Any

from dteg.errors import ConfigError, ConnectorError

# librdkafka logs through this logger (instead of printing `%4|…` lines on stderr).
LOG = logging.getLogger("dteg.kafka")
LOG.addHandler(logging.NullHandler())
LOG.propagate = False


def kafka() -> Any:
    """The ``confluent_kafka`` module, or a message that says what to install."""
    try:
        import confluent_kafka
    except ModuleNotFoundError:
        raise ConfigError(
            "the Kafka connector needs the confluent-kafka package",
            hint="Install it with `pip install 'dteg[kafka]'`.") from None
    return confluent_kafka


def describe_error(exc: BaseException) -> str:
    """One line from a KafkaException (its KafkaError), or any exception."""
    err: Any = exc.args[0] if exc.args else None
    if err is not None and callable(getattr(err, "str", None)):
        return str(err.str())
    return str(exc) or type(exc).__name__


def unreachable(servers: str, attempts: int, seconds: float, cause: str, *,
                step: str | None) -> ConnectorError:
    return ConnectorError(
        f"cannot reach Kafka at {servers} after {attempts} attempt(s) over {seconds:.0f} s "
        f"({cause})", step=step, retriable=True,
        hint="Start the broker (for local runs: `scripts/services/kafka start`) or fix "
        "`bootstrap_servers`.")


def with_logger(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "logger": LOG}


def topic_partitions(client: Any, topics: list[str], *, servers: str, attempts: int,
                     timeout: float, step: str | None) -> dict[str, list[int]]:
    """Partition ids of each topic; retries while the brokers do not answer. A missing topic
    is a ConnectorError that names it."""
    started = time.monotonic()
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            metadata = client.list_topics(timeout=timeout)
        except Exception as exc:  # KafkaException: transport failure, timed out
            last = describe_error(exc)
            if attempt < attempts:
                time.sleep(min(2.0 ** (attempt - 1), 10.0))
            continue
        found: dict[str, list[int]] = {}
        missing = []
        for topic in topics:
            meta = metadata.topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                missing.append(topic)
            else:
                found[topic] = sorted(meta.partitions)
        if missing:
            known = sorted(t for t in metadata.topics if not t.startswith("__"))
            raise ConnectorError(
                f"topic(s) {', '.join(missing)} do not exist on {servers}", step=step,
                hint=f"Create them first, or fix `topic:`. Topics there: "
                f"{', '.join(known[:20]) or 'none'}.")
        return found
    raise unreachable(servers, attempts, time.monotonic() - started, last, step=step)
