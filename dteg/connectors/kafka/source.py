"""Read Kafka topics as Arrow batches: each split is one partition's offset range [start, end),
fixed before the run (``dteg.connectors.kafka.offsets``). The reader assigns the partition,
seeks to ``start``, reads up to ``end`` and stops; it never commits (the launcher does, once
every sink has committed the rows)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchReader, Partition, PartitionPoller, Rejected, RunContext
from dteg.components.records import POSITION_COLUMN, SOURCE_COLUMN, dead_letters, row_json
from dteg.connectors.kafka.client import describe_error
from dteg.connectors.kafka.config import SourceConfig
from dteg.connectors.kafka.decode import WITHHELD, Decoded, make_decoder
from dteg.connectors.kafka.offsets import OffsetPlanner, PartitionRange, default_group
from dteg.connectors.kafka.ranges import POOL, ReadStalled
from dteg.errors import ConnectorError


@dataclass(frozen=True)
class ReadSplit:
    """Ranges one reader consumes together (a Beam element, so picklable)."""

    ranges: tuple[PartitionRange, ...]

    def label(self) -> str:
        return ", ".join(r.label() for r in self.ranges)


def group_ranges(ranges: list[PartitionRange], readers: int) -> list[ReadSplit]:
    """Deal the ranges to at most ``readers`` splits, largest first to the lightest."""
    groups: list[list[PartitionRange]] = [[] for _ in range(max(min(readers, len(ranges)), 1))]
    for r in sorted(ranges, key=lambda r: -r.size):
        min(groups, key=lambda g: sum(x.size for x in g)).append(r)
    return [ReadSplit(tuple(g)) for g in groups if g]


class KafkaReader(BatchReader, PartitionPoller):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.group = config.group_id or default_group(ctx.pipeline, ctx.step)
        self.decoder = make_decoder(config, ctx.base_dir)
        self.prefix = config.metadata_prefix
        self._polling: Any = None  # PartitionConsumers, opened by the first fetch

    # --- planning -----------------------------------------------------------------------

    def planner(self) -> OffsetPlanner:
        return OffsetPlanner(self.config, group=self.group, step=self.ctx.step)

    def splits(self) -> list[Any]:
        # What the launcher planned (RunContext.plan): the ranges inline (a bounded run; they
        # travel with the graph to remote workers), or a file a stream rewrites before every
        # micro-batch ({step: [[topic, partition, start, end], …]}).
        plan = self.ctx.plan
        if plan.offset_ranges is not None:
            ranges = [PartitionRange.from_json(r) for r in plan.offset_ranges]
        elif plan.offset_ranges_file is not None:
            planned = json.loads(plan.offset_ranges_file.read_text(encoding="utf-8"))
            ranges = [PartitionRange.from_json(r) for r in planned.get(self.ctx.step, [])]
        else:
            # Library use without a launcher: read what is there now; nothing is committed.
            planner = self.planner()
            try:
                planner.connect()
                planner.resolve_until(bounded=True)
                ranges = planner.plan(None).ranges
            finally:
                planner.close()
        return group_ranges([r for r in ranges if r.size > 0], self.config.readers)

    # --- reading ------------------------------------------------------------------------

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        group: ReadSplit = split
        if not group.ranges:
            return
        settings = {**self.config.client_settings(), "group.id": self.group}
        timestamps: list[int] = []

        def failed(error: Any) -> None:
            if error.fatal() or not error.retriable():
                raise self._failed(group, error.str())

        try:
            with POOL.reader(settings, self.config.read_ahead) as reader:
                for messages in reader.read(group.ranges, batch=self.config.batch_rows,
                                            timeout=self.config.read_timeout,
                                            on_error=failed):
                    values = [m.value() for m in messages]
                    times = [m.timestamp()[1] for m in messages]
                    timestamps.extend(times)
                    yield from self._decode(messages, values, times)
        except ReadStalled as exc:
            raise self._failed(group, f"no message for {self.config.read_timeout:.0f} s at "
                                      f"{exc}") from None
        except ConnectorError:
            raise
        except Exception as exc:  # KafkaException from assign/consume
            if type(exc).__name__ != "KafkaException":
                raise
            raise self._failed(group, describe_error(exc)) from None
        folder = self.ctx.plan.timestamps_dir
        if folder is not None and timestamps:
            _save_timestamps(folder, self.ctx.step, group.ranges[0], timestamps)

    def _failed(self, group: ReadSplit, why: str) -> ConnectorError:
        return ConnectorError(
            f"reading {group.label()} from {self.config.bootstrap_servers} failed: {why}",
            step=self.ctx.step, retriable=True,
            hint="Is the broker running? `dteg stream` retries the micro-batch by itself.")

    # --- polling (the Beam-native stream: dteg.beam.unbounded) -------------------------

    def fetch(self, partition: Partition, position: int, *, max_records: int,
              timeout: float) -> list[Any]:
        from dteg.connectors.kafka.poller import PartitionConsumers

        if self._polling is None:
            settings = {**self.config.client_settings(), "group.id": self.group}
            self._polling = PartitionConsumers(settings, self.config.batch.max_seconds)

        def failed(error: Any) -> None:
            # A broker that is away (restarted, unreachable for a while) is waited for: the
            # client reconnects by itself and the partition's restriction reads on.
            if error.fatal() or not (error.retriable() or _transient(error)):
                raise ConnectorError(
                    f"reading {partition[0]}/{partition[1]}@{position} from "
                    f"{self.config.bootstrap_servers} failed: {error.str()}",
                    step=self.ctx.step, retriable=True, hint="Is the broker running?")

        try:
            return self._polling.fetch(partition, position, max_records, timeout, failed)
        except ConnectorError:
            raise
        except Exception as exc:  # KafkaException from assign/consume
            if type(exc).__name__ != "KafkaException":
                raise
            raise ConnectorError(
                f"reading {partition[0]}/{partition[1]}@{position} failed: "
                f"{describe_error(exc)}", step=self.ctx.step, retriable=True,
                hint="Is the broker running?") from None

    def offset(self, message: Any) -> int:
        return int(message.offset())

    def event_time_ms(self, message: Any) -> int:
        return int(message.timestamp()[1])

    def decode(self, messages: list[Any]) -> Iterator[pa.RecordBatch | Rejected]:
        yield from self._decode(messages, [m.value() for m in messages],
                                [m.timestamp()[1] for m in messages])

    def close_poller(self) -> None:
        if self._polling is not None:
            self._polling.close()
            self._polling = None

    # --- decoding -----------------------------------------------------------------------

    def _decode(self, messages: list[Any], values: list[bytes | None], times: list[int],
                ) -> Iterator[pa.RecordBatch | Rejected]:
        decoded = self.decoder.decode(values)
        if decoded.bad:
            yield Rejected(self._dead(messages, decoded))
        if decoded.table is None or not decoded.kept:
            return
        if len(decoded.kept) != len(messages):
            messages = [messages[i] for i in decoded.kept]
            times = [times[i] for i in decoded.kept]
        table = _with_provenance(self._with_metadata(decoded.table, messages, times), messages)
        yield from table.combine_chunks().to_batches(max_chunksize=self.config.batch_rows)

    def _dead(self, messages: list[Any], decoded: Decoded) -> pa.RecordBatch:
        reasons, records, sources = [], [], []
        for index, reason in decoded.bad:
            message = messages[index]
            reasons.append(reason)
            records.append(self._raw(message.value()))
            sources.append(f"{message.topic()}/{message.partition()}@{message.offset()}")
        return dead_letters(pipeline=self.ctx.pipeline, step=self.ctx.step, reasons=reasons,
                            records=records, sources=sources)

    def _raw(self, value: bytes | None) -> str:
        if value is None:
            return ""
        if self.ctx.mask_row is None:
            return value.decode("utf-8", "replace") if self.config.format != "avro" \
                else value.hex()
        try:
            obj = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            return WITHHELD
        return row_json(obj, self.ctx.mask_row) if isinstance(obj, dict) else WITHHELD

    def _with_metadata(self, table: pa.Table, messages: list[Any], times: list[int]
                       ) -> pa.Table:
        for name in self.config.metadata:
            column = self.prefix + name
            if column in table.column_names:
                raise ConnectorError(
                    f"metadata column `{column}` clashes with a field of the messages",
                    step=self.ctx.step, hint="Set another `metadata_prefix:`.")
            array = (pa.array(times, pa.timestamp("ms", tz="UTC")) if name == "timestamp"
                     else _metadata(name, messages, self.config))
            table = table.append_column(column, array)
        return table

    def describe(self) -> str:
        return f"kafka://{self.config.bootstrap_servers}/{','.join(self.config.topics())}"


def _transient(error: Any) -> bool:
    """librdkafka's errors for brokers that cannot be reached right now."""
    from dteg.connectors.kafka.client import kafka

    codes = kafka().KafkaError
    return error.code() in (codes._TRANSPORT, codes._ALL_BROKERS_DOWN, codes._TIMED_OUT,
                            codes._RESOLVE)


def _with_provenance(table: pa.Table, messages: list[Any]) -> pa.Table:
    """Each row's topic, partition and offset (``orders/0@41``), for the dead letters of
    later stages; a batch can hold several partitions, so ``_dteg_source`` has one entry per
    partition."""
    where = pa.array([f"{m.topic()}/{m.partition()}@{{}}" for m in messages],
                     pa.string()).dictionary_encode()
    offsets = pa.array([m.offset() for m in messages], pa.int64())
    return table.append_column(SOURCE_COLUMN, where).append_column(POSITION_COLUMN, offsets)


def _metadata(name: str, messages: list[Any], config: SourceConfig) -> pa.Array:
    if name == "partition":
        return pa.array([m.partition() for m in messages], pa.int32())
    if name == "offset":
        return pa.array([m.offset() for m in messages], pa.int64())
    if name == "timestamp":
        return pa.array([m.timestamp()[1] for m in messages], pa.timestamp("ms", tz="UTC"))
    if name == "topic":
        return pa.array([m.topic() for m in messages], pa.string())
    if name == "key":
        keys = [m.key() for m in messages]
        if config.key_format == "bytes":
            return pa.array(keys, pa.binary())
        return pa.array([None if k is None else k.decode("utf-8", "replace") for k in keys],
                        pa.string())
    assert name == "headers"
    return pa.array(
        [None if not m.headers() else
         [(k, None if v is None else v.decode("utf-8", "replace")) for k, v in m.headers()]
         for m in messages], pa.map_(pa.string(), pa.string()))


def _save_timestamps(folder: Path, step: str, rng: PartitionRange, values: list[int]) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    name = f"{step}.{rng.topic}.{rng.partition}.{rng.start}"
    tmp = folder / f".{name}.{uuid.uuid4().hex}.npy"
    np.save(tmp, np.asarray(values, dtype=np.int64))
    os.replace(tmp, folder / f"{name}.npy")


def create(config: SourceConfig, ctx: RunContext) -> KafkaReader:
    return KafkaReader(config, ctx)
