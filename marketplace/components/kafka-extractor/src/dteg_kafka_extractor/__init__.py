"""kafka-extractor: Kafka topics as a dteg source (the seed's ``dteg://streaming/kafka``).

It packages dteg's own Kafka source (``dteg.connectors.kafka``: at-least-once, offsets committed
after the sinks commit, an offset planner so ``dteg run`` reads a bounded range and ``dteg
stream`` runs until stopped) as a marketplace component, with the same capabilities, so a
pipeline's ``type: dteg://kafka-extractor`` gets exactly what the built-in gets.
"""

from dteg.components.capabilities import Capabilities
from dteg.components.registry import ComponentInfo

COMPONENT = ComponentInfo(
    name="kafka-extractor",
    kind="source",
    config="dteg_kafka_extractor.config:SourceConfig",
    factory="dteg_kafka_extractor.source:create",
    summary="Read Kafka topics (kafka-extractor 1.0.0, marketplace)",
    capabilities=Capabilities(offset_planner="dteg.connectors.kafka.offsets:create_planner",
                              extra="kafka"),
)
