"""Produce rows to a Kafka topic: one message per row, idempotent producer with acks=all,
key from a column, compression, headers.

Every part flushes its producer when it closes and fails the run if any message was not
acknowledged, so a delivery failure is never a silent drop. Messages are visible as soon as
they are delivered: a run that fails after some parts were delivered has written those rows,
and the rerun writes them again (at-least-once; Kafka transactions are not used).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.connectors.kafka.client import describe_error, kafka, with_logger
from dteg.connectors.kafka.config import SinkConfig
from dteg.errors import ConnectorError

_POLL_EVERY = 1_000


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _text(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat().encode()
    return str(value).encode()


class _Part(PartWriter):
    def __init__(self, writer: KafkaWriter) -> None:
        self.writer = writer
        self.config = writer.config
        try:
            self.producer = kafka().Producer(with_logger(self.config.client_settings()))
        except Exception as exc:  # KafkaException: bad settings
            raise ConnectorError(f"cannot create a Kafka producer: {describe_error(exc)}",
                                 step=writer.ctx.step, hint="Check `producer:` settings.") from None
        self.rows = 0
        self.delivered = 0
        self.failed = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def _report(self, err: Any, _msg: Any) -> None:
        with self._lock:
            if err is None:
                self.delivered += 1
                return
            self.failed += 1
            if len(self.errors) < 3:
                self.errors.append(err.str() if hasattr(err, "str") else str(err))

    def write(self, batch: pa.RecordBatch) -> None:
        values = self.writer.encode(batch)
        keys = ([_text(v) for v in batch.column(self.config.key).to_pylist()]
                if self.config.key else None)
        headers = self.writer.headers(batch)
        produce = self.producer.produce
        topic = self.config.topic
        for i, value in enumerate(values):
            kwargs: dict[str, Any] = {"on_delivery": self._report}
            if keys is not None and keys[i] is not None:
                kwargs["key"] = keys[i]
            if headers is not None:
                kwargs["headers"] = headers[i]
            while True:
                try:
                    produce(topic, value, **kwargs)
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    self.producer.poll(0.1)
                except Exception as exc:  # KafkaException: message too large, …
                    raise ConnectorError(
                        f"producing to {topic} failed: {describe_error(exc)}",
                        step=self.writer.ctx.step) from None
            if i % _POLL_EVERY == 0:
                self.producer.poll(0)
        self.rows += len(values)

    def close(self) -> PartResult | None:
        left = self.producer.flush(self.config.delivery_timeout + 5)
        if left or self.failed:
            lost = self.failed + left
            detail = "; ".join(self.errors) or "not acknowledged in time"
            raise ConnectorError(
                f"{lost:,} of {self.rows:,} message(s) to {self.config.topic} were not "
                f"delivered ({detail})", step=self.writer.ctx.step, retriable=True,
                hint=f"Check that the brokers at {self.config.bootstrap_servers} are up and "
                "the topic accepts writes; rows already delivered are written again when the "
                "run is repeated.")
        if not self.rows:
            return None
        return PartResult(location=self.config.topic, rows=self.rows,
                          extra={"delivered": self.delivered})


class KafkaWriter(BatchWriter):
    def __init__(self, config: SinkConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self._avro: Callable[[dict[str, Any]], bytes] | None = None

    def open_part(self, part_id: str) -> PartWriter:
        return _Part(self)

    def commit(self, parts: list[PartResult]) -> CommitResult:
        rows = sum(p.rows for p in parts)
        delivered = sum(int(p.extra.get("delivered", 0)) for p in parts)
        if delivered != rows:
            raise ConnectorError(
                f"{rows - delivered:,} message(s) to {self.config.topic} were not delivered",
                step=self.ctx.step, retriable=True)
        return CommitResult(rows=rows, target=self.describe(), detail="delivered")

    def describe(self) -> str:
        return f"kafka://{self.config.bootstrap_servers}/{self.config.topic}"

    # --- encoding -----------------------------------------------------------------------

    def headers(self, batch: pa.RecordBatch) -> list[list[tuple[str, bytes | None]]] | None:
        static: list[tuple[str, bytes | None]] = [
            (k, v.encode()) for k, v in self.config.headers.items()]
        if not self.config.header_columns:
            return [static] * batch.num_rows if static else None
        columns = [(c, batch.column(c).to_pylist()) for c in self.config.header_columns]
        return [static + [(name, _text(values[i])) for name, values in columns]
                for i in range(batch.num_rows)]

    def encode(self, batch: pa.RecordBatch) -> list[bytes | None]:
        fmt = self.config.format
        if fmt in ("string", "bytes"):
            assert self.config.value_column is not None
            return [_text(v) for v in batch.column(self.config.value_column).to_pylist()]
        rows = batch.to_pylist()
        if fmt == "json":
            return [json.dumps(r, default=_json_default, ensure_ascii=False).encode()
                    for r in rows]
        encode = self._avro_encoder(batch.schema)
        return [encode(r) for r in rows]

    def _avro_encoder(self, schema: pa.Schema) -> Callable[[dict[str, Any]], bytes]:
        if self._avro is not None:
            return self._avro
        import io

        import fastavro

        from dteg.connectors.avro.schema import from_arrow_schema

        record = self.config.avro_schema_dict() or from_arrow_schema(schema, self.ctx.step)
        parsed = fastavro.parse_schema(record)
        prefix = b""
        if self.config.avro_wire == "confluent":
            prefix = b"\x00" + struct.pack(">I", self.config.avro_schema_id or 1)

        def encode(row: dict[str, Any]) -> bytes:
            out = io.BytesIO()
            out.write(prefix)
            fastavro.schemaless_writer(out, parsed, row)
            return out.getvalue()

        self._avro = encode
        return encode


def create(config: SinkConfig, ctx: RunContext) -> KafkaWriter:
    return KafkaWriter(config, ctx)
