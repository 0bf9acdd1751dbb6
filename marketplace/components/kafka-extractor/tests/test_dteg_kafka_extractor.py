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


def test_perf_setup_produces_every_row(tmp_path) -> None:
    import os

    import pyarrow as pa
    import pytest

    if not os.environ.get("DTEG_KAFKA_BOOTSTRAP_SERVERS"):
        pytest.fail("the perf setup needs a broker: eval \"$(scripts/services/kafka env)\"")
    from confluent_kafka import Consumer

    from dteg_kafka_extractor.perf import produce

    got = produce([pa.RecordBatch.from_pydict({"id": [1, 2, 3]})], tmp_path)
    consumer = Consumer({"bootstrap.servers": got["bootstrap"], "group.id": "t",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([got["topic"]])
    seen = []
    for _ in range(120):
        msg = consumer.poll(1.0)
        if msg is not None and not msg.error():
            seen.append(msg.value())
        if len(seen) == 3:
            break
    consumer.close()
    assert sorted(seen) == [b'{"id": 1}', b'{"id": 2}', b'{"id": 3}']
