"""kafka-extractor's config: dteg's Kafka source settings (bootstrap_servers, topic, format,
schema, start, until, security …), unchanged, so docs and errors match the built-in."""

from dteg.connectors.kafka.config import SourceConfig

__all__ = ["SourceConfig"]
