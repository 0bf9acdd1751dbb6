"""Which offsets a run or a micro-batch reads, and committing them to the consumer group.

A plan is a list of ``PartitionRange`` [start, end) fixed before Beam starts: start is where
the group stands (its committed offset, or ``start:`` for a new group), end is the partition's
end at planning time (or ``until:``), capped so that a micro-batch reads at most
``batch.max_records``. The source reads exactly those ranges and never commits; the launcher
commits ``end`` to the group once every sink has committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from dteg.connectors.kafka.client import describe_error, kafka, topic_partitions, with_logger
from dteg.connectors.kafka.config import SourceConfig, parse_instant
from dteg.connectors.kafka.ranges import POOL, TP, PartitionRange
from dteg.errors import ConnectorError


@dataclass
class Plan:
    ranges: list[PartitionRange]
    # End of each partition when planned (lag = high − committed).
    high: dict[TP, int] = field(default_factory=dict)
    # Every partition has reached `until` (a bounded stream is finished).
    finished: bool = False

    @property
    def records(self) -> int:
        return sum(r.size for r in self.ranges)

    def ends(self) -> dict[TP, int]:
        return {(r.topic, r.partition): r.end for r in self.ranges}

    def ranges_json(self) -> list[Any]:
        return [r.to_json() for r in self.ranges]


def default_group(pipeline: str, step: str) -> str:
    return f"dteg.{pipeline}.{step}"


def _ms(instant: dt.datetime) -> int:
    return int(instant.timestamp() * 1000)


class OffsetPlanner:
    """Plans ranges for one Kafka source step and commits them. Keeps one consumer (for
    metadata and commits, never for reading) and the positions it committed."""

    def __init__(self, config: SourceConfig, *, group: str, step: str) -> None:
        self.config = config
        self.group = group
        self.step = step
        self.topics = config.topics()
        self._consumer: Any = None
        self.partitions: dict[str, list[int]] = {}
        self.positions: dict[TP, int] = {}
        self._until: dict[TP, int] | None = None  # resolved `until` (None: unbounded)
        self.low_skipped: dict[TP, int] = {}  # records removed by retention before reading

    # --- connection ---------------------------------------------------------------------

    def consumer(self) -> Any:
        if self._consumer is None:
            settings = {**self.config.client_settings(), "group.id": self.group}
            self._consumer = kafka().Consumer(with_logger(settings))
        return self._consumer

    def connect(self) -> None:
        """Reach the brokers (bounded retries), learn the partitions, read where the group
        stands. Raises a retriable ConnectorError when the brokers do not answer."""
        self.partitions = topic_partitions(
            self.consumer(), self.topics, servers=self.config.bootstrap_servers,
            attempts=self.config.connect_attempts, timeout=self.config.connect_timeout,
            step=self.step)
        self.positions = self._starting_positions()

    def close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):  # a consumer whose broker is gone
                self._consumer.close()
            self._consumer = None
        # The readers this process kept between micro-batches (the embedded runner's).
        POOL.close()

    @property
    def batch_records(self) -> int:
        return self.config.batch.max_records

    @property
    def batch_seconds(self) -> float:
        return self.config.batch.max_seconds

    @property
    def until(self) -> dict[TP, int] | None:
        """Where reading stops per partition (resolved `until:`); None: never."""
        return None if self._until is None else dict(self._until)

    def all_partitions(self) -> list[TP]:
        return [(t, p) for t in self.topics for p in self.partitions.get(t, [])]

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # KafkaException
            raise ConnectorError(
                f"Kafka at {self.config.bootstrap_servers}: {what} failed: "
                f"{describe_error(exc)}", step=self.step, retriable=True,
                hint="Is the broker running? The stream retries by itself.") from None

    # --- where to start -----------------------------------------------------------------

    def watermarks(self, tp: TP) -> tuple[int, int]:
        low, high = self._call(
            f"reading the end of {tp[0]}/{tp[1]}", self.consumer().get_watermark_offsets,
            kafka().TopicPartition(tp[0], tp[1]), timeout=self.config.connect_timeout,
            cached=False)
        return int(low), int(high)

    def committed(self) -> dict[TP, int]:
        """The group's committed offsets (partitions without one are left out)."""
        TopicPartition = kafka().TopicPartition
        asked = [TopicPartition(t, p) for t, p in self.all_partitions()]
        answer = self._call(f"reading the offsets of group {self.group}",
                            self.consumer().committed, asked,
                            timeout=self.config.connect_timeout * 2)
        return {(tp.topic, tp.partition): tp.offset for tp in answer if tp.offset >= 0}

    def _offsets_for_time(self, instant: dt.datetime) -> dict[TP, int]:
        """The first offset at or after ``instant`` per partition; -1 where there is none."""
        TopicPartition = kafka().TopicPartition
        asked = [TopicPartition(t, p, _ms(instant)) for t, p in self.all_partitions()]
        answer = self._call("looking up offsets by time", self.consumer().offsets_for_times,
                            asked, timeout=self.config.connect_timeout * 2)
        return {(tp.topic, tp.partition): tp.offset for tp in answer}

    def _starting_positions(self) -> dict[TP, int]:
        committed = self.committed()
        positions: dict[TP, int] = {}
        missing = [tp for tp in self.all_partitions() if tp not in committed]
        by_time = (self._offsets_for_time(parse_instant(self.config.start))
                   if missing and self.config.start not in ("earliest", "latest") else {})
        for tp in self.all_partitions():
            if tp in committed:
                positions[tp] = committed[tp]
                continue
            low, high = self.watermarks(tp)
            if self.config.start == "earliest":
                positions[tp] = low
            elif self.config.start == "latest":
                positions[tp] = high
            else:
                found = by_time.get(tp, -1)
                positions[tp] = found if found >= 0 else high
        return positions

    def override_positions(self, positions: dict[TP, int]) -> None:
        """Start from offsets kept elsewhere (a stream's checkpoint of window state)."""
        for tp, offset in positions.items():
            if tp in self.positions:
                self.positions[tp] = offset

    # --- planning -----------------------------------------------------------------------

    def resolve_until(self, *, bounded: bool) -> None:
        """Fix `until` once, at the start of a run or stream. A bounded run without `until`
        reads up to the ends as they are now."""
        until = self.config.until
        if until is None and not bounded:
            self._until = None
            return
        if until is None or until == "now":
            self._until = {tp: self.watermarks(tp)[1] for tp in self.all_partitions()}
            return
        explicit = self.config.until_offsets()
        if explicit is not None:
            unknown = sorted(set(explicit) - set(self.all_partitions()))
            if unknown:
                raise ConnectorError(
                    f"`until` names partition(s) {unknown} that the topic(s) do not have",
                    step=self.step, hint=f"Partitions: {self.all_partitions()}.")
            self._until = {tp: explicit.get(tp, self.positions[tp])
                           for tp in self.all_partitions()}
            return
        assert isinstance(until, str)
        found = self._offsets_for_time(parse_instant(until))
        self._until = {tp: (off if off >= 0 else self.watermarks(tp)[1])
                       for tp, off in found.items()}

    def plan(self, budget: int | None) -> Plan:
        """Ranges for the next read: at most ``budget`` records over all partitions, shared
        so that every partition with data gets its turn."""
        high: dict[TP, int] = {}
        available: dict[TP, int] = {}
        for tp in self.all_partitions():
            low, end = self.watermarks(tp)
            high[tp] = end
            position = self.positions.get(tp, low)
            if position < low:
                # Retention removed records this group never read: nothing can bring them back.
                self.low_skipped[tp] = self.low_skipped.get(tp, 0) + (low - position)
                position = self.positions[tp] = low
            limit = end if self._until is None else min(end, self._until.get(tp, end))
            available[tp] = max(limit - position, 0)
        finished = self._until is not None and all(
            self.positions.get(tp, 0) >= self._until.get(tp, 0) for tp in self.all_partitions())
        shares = share(available, budget)
        ranges = [PartitionRange(t, p, self.positions[(t, p)], self.positions[(t, p)] + n)
                  for (t, p), n in shares.items() if n > 0]
        return Plan(ranges, high, finished)

    def lag(self, high: dict[TP, int]) -> dict[TP, int]:
        return {tp: max(high.get(tp, 0) - self.positions.get(tp, 0), 0)
                for tp in self.all_partitions()}

    # --- committing ---------------------------------------------------------------------

    def advance(self, ends: dict[TP, int]) -> None:
        """The rows up to ``ends`` are durably in every sink: read on from there."""
        for tp, end in ends.items():
            self.positions[tp] = max(self.positions.get(tp, 0), end)

    def commit(self, plan: Plan) -> None:
        """Commit the ends of ``plan`` to the group (every sink committed its rows)."""
        self.commit_positions(plan.ends())

    def commit_positions(self, ends: dict[TP, int], attempts: int = 3) -> None:
        """Commit ``ends`` to the consumer group (synchronously). Retriable ConnectorError
        when the coordinator cannot be reached after ``attempts``."""
        if not ends:
            return
        TopicPartition = kafka().TopicPartition
        offsets = [TopicPartition(t, p, end) for (t, p), end in sorted(ends.items())]
        last = ""
        for attempt in range(attempts):
            try:
                answer = self.consumer().commit(offsets=offsets, asynchronous=False)
                failed = [tp for tp in answer or [] if tp.error is not None]
                if not failed:
                    return
                last = "; ".join(f"{tp.topic}/{tp.partition}: {tp.error}" for tp in failed)
            except Exception as exc:  # KafkaException
                last = describe_error(exc)
            if attempt + 1 < attempts:
                time.sleep(0.5 * (attempt + 1))
        raise ConnectorError(
            f"committing offsets to group {self.group} failed: {last}", step=self.step,
            retriable=True, hint="The rows are loaded; the commit is retried, and a restart "
            "commits it before reading on.")


def share(available: dict[TP, int], budget: int | None) -> dict[TP, int]:
    """Split ``budget`` records over partitions (water-filling: small partitions get all
    they have, the rest is shared evenly among the larger ones)."""
    if budget is None:
        return dict(available)
    result = {tp: 0 for tp in available}
    waiting = sorted((n, tp) for tp, n in available.items() if n > 0)
    remaining = budget
    while waiting and remaining > 0:
        fair = max(remaining // len(waiting), 1)
        n, tp = waiting[0]
        if n <= fair:
            result[tp] = n
            remaining -= n
            waiting.pop(0)
            continue
        for n, tp in waiting:
            take = min(n, fair, remaining)
            result[tp] = take
            remaining -= take
        break
    return result


def create_planner(settings: SourceConfig, *, pipeline: str, step: str) -> OffsetPlanner:
    """The planner of a Kafka source step (``Capabilities.offset_planner``)."""
    return OffsetPlanner(settings, group=settings.group_id or default_group(pipeline, step),
                         step=step)
