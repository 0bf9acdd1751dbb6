"""kafka-extractor's own tests: it registers under its name with the Kafka source's
capabilities and config, and builds dteg's Kafka reader."""

from __future__ import annotations

from dteg_kafka_extractor import COMPONENT
from dteg_kafka_extractor.config import SourceConfig

from dteg.connectors.kafka.config import SourceConfig as KafkaConfig


def test_component_is_a_kafka_source() -> None:
    assert COMPONENT.name == "kafka-extractor" and COMPONENT.kind == "source"
    assert COMPONENT.capabilities.offset_planner == "dteg.connectors.kafka.offsets:create_planner"
    assert COMPONENT.config_model() is KafkaConfig is SourceConfig


def test_config_validates_like_the_built_in() -> None:
    settings = SourceConfig.model_validate({"bootstrap_servers": "127.0.0.1:9092",
                                            "topic": "orders"})
    assert settings.topic == "orders"


def test_factory_builds_the_kafka_reader() -> None:
    from dteg.connectors.kafka.source import create

    assert COMPONENT.load_factory().__module__ == "dteg_kafka_extractor.source"
    assert callable(create)
