"""Config of the Kafka source and sink (confluent-kafka, i.e. librdkafka: no Java needed)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dteg.components.settings import Dataset, SinkSettings, SourceSettings
from dteg.components.types import UnknownType, check_type

Format = Literal["json", "avro", "string", "bytes"]
Metadata = Literal["topic", "partition", "offset", "timestamp", "key", "headers"]
ClientValue = str | int | float | bool


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 instant; a value without a zone is taken as UTC."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class BatchConfig(BaseModel):
    """How much one micro-batch of ``dteg stream`` reads."""

    model_config = ConfigDict(extra="forbid")

    max_records: int = Field(
        default=200_000, ge=1,
        description="At most this many records per micro-batch (all partitions together)")
    max_seconds: float = Field(
        default=0.5, ge=0,
        description="Start a micro-batch once this long has passed since the previous one "
        "started, even if fewer than max_records are waiting")


class _Client(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bootstrap_servers: str = Field(
        description="host:port[,host:port…] of the brokers, e.g. "
        "${env:DTEG_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:59092}")
    connect_attempts: int = Field(
        default=5, ge=1, description="Tries to reach the brokers before a run fails")
    connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds each try waits for the brokers' answer")
    avro_schema: dict[str, Any] | str | None = Field(
        default=None, description="format avro: the record schema (a mapping or JSON text)")
    avro_schema_file: str | None = Field(
        default=None, description="format avro: a .avsc file (relative to the pipeline file)")
    avro_wire: Literal["raw", "confluent"] = Field(
        default="raw", description="raw: the Avro datum alone; confluent: a zero byte and a "
        "4-byte schema id before it (Confluent Schema Registry framing)")
    avro_schema_id: int | None = Field(
        default=None, description="avro_wire confluent: the schema id to expect (source: "
        "other ids are dead-lettered) or to write (sink, default 1)")

    @field_validator("avro_schema")
    @classmethod
    def _schema_text(cls, value: dict[str, Any] | str | None) -> dict[str, Any] | str | None:
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"`avro_schema` is not JSON: {exc.msg}") from None
            if not isinstance(parsed, dict):
                raise ValueError("`avro_schema` must be an Avro record schema (a mapping)")
        return value

    def client_settings(self) -> dict[str, ClientValue]:
        raise NotImplementedError

    def avro_schema_dict(self) -> dict[str, Any] | None:
        if isinstance(self.avro_schema, str):
            parsed: dict[str, Any] = json.loads(self.avro_schema)
            return parsed
        return self.avro_schema

    def kafka_namespace(self) -> str:
        """OpenLineage naming: ``kafka://`` + the first bootstrap server."""
        return "kafka://" + self.bootstrap_servers.split(",")[0].strip()


class SourceConfig(_Client, SourceSettings):
    """Read one or more topics. ``dteg stream`` reads until stopped; ``dteg run`` reads what
    is there when it starts (or up to ``until``). Offsets are committed to the consumer group
    only after every sink has committed the rows."""

    topic: str | list[str] | None = Field(default=None, description="Topic name(s)")
    topic_name: str | None = Field(default=None, description="Same as `topic`")
    group_id: str | None = Field(
        default=None, description="Consumer group whose committed offsets say where to "
        "resume (default: dteg.<pipeline>.<step>)")
    format: Format = Field(default="json", description="How message values are decoded")
    schema_: dict[str, str] | None = Field(
        default=None, alias="schema",
        description="format json: declared column types (column: type); values that do not "
        "fit are dead-lettered, fields not declared are ignored. Without it, types are "
        "inferred per micro-batch.")
    value_column: str = Field(default="value",
                              description="format string/bytes: the column holding the value")
    key_format: Literal["string", "bytes"] = "string"
    metadata: list[Metadata] = Field(
        default_factory=list,
        description="Message metadata to add as columns <metadata_prefix><name>: topic, "
        "partition, offset, timestamp (the message's Kafka timestamp), key, headers")
    metadata_prefix: str = "kafka_"
    start: str = Field(
        default="earliest",
        description="Where to begin when the group has no committed offset: earliest, "
        "latest or an ISO timestamp (the first message at or after it)")
    until: str | dict[str, Any] | None = Field(
        default=None,
        description="Stop here (bounded: backfills, `dteg run`): now (the end of each "
        "partition when the run starts), an ISO timestamp, or {offsets: {partition: offset}} "
        "(exclusive). `dteg run` defaults to now; `dteg stream` to never")
    batch: BatchConfig = Field(default_factory=BatchConfig)
    batch_rows: int = Field(default=100_000, ge=1, description="Rows per Arrow batch")
    read_ahead: int = Field(
        default=50_000, ge=1, description="Messages per partition read ahead of the "
        "micro-batch in flight (kept for the next one)")
    readers: int = Field(
        default=1, ge=1, description="Parallel readers per micro-batch, each reading some "
        "partitions (the embedded runner is fastest with 1: one client fetches every "
        "partition at once; on Flink, its parallelism)")
    read_timeout: float = Field(
        default=60.0, gt=0,
        description="Fail the micro-batch (it is retried) when a partition yields nothing for "
        "this long")
    consumer: dict[str, ClientValue] = Field(
        default_factory=dict,
        description="Extra librdkafka consumer settings (security.protocol, sasl.*, …)")

    @field_validator("schema_")
    @classmethod
    def _known_types(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for column, name in (value or {}).items():
            try:
                check_type(str(name))
            except UnknownType as exc:
                raise ValueError(f"column `{column}`: {exc}") from None
        return value

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        if value not in ("earliest", "latest"):
            try:
                parse_instant(value)
            except ValueError:
                raise ValueError(f"`start: {value}` is not earliest, latest or an ISO "
                                 "timestamp (2026-11-26T12:00:00Z)") from None
        return value

    @field_validator("until")
    @classmethod
    def _until(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(value, str) and value != "now":
            try:
                parse_instant(value)
            except ValueError:
                raise ValueError(f"`until: {value}` is not now, an ISO timestamp or "
                                 "{offsets: {partition: offset}}") from None
        if isinstance(value, dict) and (
                set(value) != {"offsets"} or not isinstance(value["offsets"], dict)):
            raise ValueError("`until` as a mapping is {offsets: {partition: offset}} or "
                             "{offsets: {topic: {partition: offset}}}")
        return value

    @model_validator(mode="after")
    def _one_topic_key(self) -> SourceConfig:
        if (self.topic is None) == (self.topic_name is None):
            raise ValueError("give `topic:` (a name or a list of names)")
        if self.format == "avro" and (self.avro_schema is None) == (
                self.avro_schema_file is None):
            raise ValueError("format avro needs exactly one of `avro_schema:` or "
                             "`avro_schema_file:`")
        if self.schema_ and self.format != "json":
            raise ValueError("`schema:` applies to format json; Avro brings its own schema")
        return self

    def topics(self) -> list[str]:
        if self.topic_name is not None:
            return [self.topic_name]
        return [self.topic] if isinstance(self.topic, str) else list(self.topic or [])

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset:
        return self.kafka_namespace(), ",".join(self.topics())

    def until_offsets(self) -> dict[tuple[str, int], int] | None:
        """``until: {offsets: …}`` as (topic, partition) → offset."""
        if not isinstance(self.until, dict):
            return None
        topics = self.topics()
        found: dict[tuple[str, int], int] = {}
        for key, value in self.until["offsets"].items():
            if isinstance(value, dict):
                for partition, offset in value.items():
                    found[(str(key), int(partition))] = int(offset)
            else:
                if len(topics) != 1:
                    raise ValueError("with several topics, write until offsets as "
                                     "{offsets: {topic: {partition: offset}}}")
                found[(topics[0], int(key))] = int(value)
        return found

    def client_settings(self) -> dict[str, ClientValue]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            # Big fetches: a micro-batch reads a known range as fast as the broker serves it.
            "fetch.max.bytes": 52_428_800,
            "max.partition.fetch.bytes": 10_485_760,
            "fetch.wait.max.ms": 100,
            # After a range is read, the prefetched rest of that partition fills the queue;
            # librdkafka's default then backs the broker's fetches off for 1 s, which would
            # stall the next partition's range.
            "fetch.queue.backoff.ms": 5,
            "socket.connection.setup.timeout.ms": int(self.connect_timeout * 1000),
            **self.consumer,
        }


class SinkConfig(_Client, SinkSettings):
    """Produce each row as one message (idempotent producer, acks=all). Messages are visible
    as soon as they are delivered: the sink is at-least-once, not transactional."""

    topic: str = Field(description="Topic to write to")
    format: Format = Field(default="json", description="How rows become message values")
    value_column: str | None = Field(
        default=None, description="format string/bytes: the column that is the value")
    key: str | None = Field(default=None, description="Column whose value is the message key")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="Headers added to every message")
    header_columns: list[str] = Field(
        default_factory=list, description="Columns sent as headers (name = column)")
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    linger_ms: int = Field(default=20, ge=0, description="librdkafka linger.ms")
    delivery_timeout: float = Field(
        default=120.0, gt=0,
        description="Seconds a message may take to be acknowledged before the run fails")
    producer: dict[str, ClientValue] = Field(
        default_factory=dict, description="Extra librdkafka producer settings")

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset:
        return self.kafka_namespace(), self.topic

    @model_validator(mode="after")
    def _value_column(self) -> SinkConfig:
        if self.format in ("string", "bytes") and not self.value_column:
            raise ValueError(f"format {self.format} needs `value_column:` (the column to send)")
        return self

    def client_settings(self) -> dict[str, ClientValue]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": self.compression,
            "linger.ms": self.linger_ms,
            "delivery.timeout.ms": int(self.delivery_timeout * 1000),
            "socket.connection.setup.timeout.ms": int(self.connect_timeout * 1000),
            **self.producer,
        }
