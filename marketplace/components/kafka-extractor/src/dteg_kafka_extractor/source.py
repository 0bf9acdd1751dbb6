"""kafka-extractor's reader: dteg's Kafka reader (imported when a step builds it)."""

from __future__ import annotations

from typing import Any

from dteg_kafka_extractor.config import SourceConfig


def create(config: SourceConfig, ctx: Any) -> Any:
    """The Kafka reader for ``config`` (the client library is imported only here)."""
    from dteg.connectors.kafka.source import create as kafka_source

    return kafka_source(config, ctx)
