"""Reading exact offset ranges with one consumer that keeps reading ahead between them.

A stream reads [start, end) of each partition per micro-batch, and the next micro-batch
starts where the last one ended. Re-assigning the consumer every time would throw away what
the client has already fetched and start each micro-batch cold, so a ``RangeReader`` stays
assigned: messages past a range's end are kept (the *stash*, at most ``read_ahead`` per
partition, beyond which the partition is paused) and handed out first by the next range that
starts there. A range that does not continue where the reader stands (another process
committed, a retry after a failure) makes it seek: everything is re-assigned from the ranges'
starts and the stash is dropped.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dteg.connectors.kafka.client import kafka, with_logger

# Messages asked of the client per call: a small call returns what is fetched already while
# the client keeps fetching in the background.
CONSUME_CHUNK = 10_000


TP = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class PartitionRange:
    """Offsets [start, end) of one partition. Picklable: it is a Beam element."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(self.end - self.start, 0)

    def label(self) -> str:
        return f"{self.topic}/{self.partition}@{self.start}..{self.end}"

    def to_json(self) -> list[Any]:
        return [self.topic, self.partition, self.start, self.end]

    @classmethod
    def from_json(cls, data: list[Any]) -> PartitionRange:
        return cls(str(data[0]), int(data[1]), int(data[2]), int(data[3]))


class ReadStalled(Exception):
    """No message arrived for the ranges within the timeout."""


class RangeReader:
    def __init__(self, settings: dict[str, Any], read_ahead: int) -> None:
        self.consumer = kafka().Consumer(with_logger(settings))
        self.read_ahead = read_ahead
        self.fetched: dict[TP, int] = {}  # assigned partition → offset after the last consumed
        self.stash: dict[TP, deque[Any]] = {}
        self.paused: set[TP] = set()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the broker may be gone: nothing to keep
            self.consumer.close()

    # --- positioning --------------------------------------------------------------------

    def _next(self, tp: TP) -> int | None:
        """The offset of the next message this reader would hand out for ``tp``."""
        stash = self.stash.get(tp)
        if stash:
            return int(stash[0].offset())
        return self.fetched.get(tp)

    def position(self, ranges: tuple[PartitionRange, ...]) -> None:
        TopicPartition = kafka().TopicPartition
        if all(self._next((r.topic, r.partition)) == r.start for r in ranges):
            again = [TopicPartition(r.topic, r.partition) for r in ranges
                     if (r.topic, r.partition) in self.paused]
            if again:
                self.consumer.resume(again)
                self.paused -= {(t.topic, t.partition) for t in again}
            return
        assigned = [TopicPartition(r.topic, r.partition, r.start) for r in ranges]
        self.consumer.assign(assigned)
        self.consumer.resume(assigned)  # pause survives a re-assign in librdkafka
        self.fetched = {(r.topic, r.partition): r.start for r in ranges}
        self.stash = {}
        self.paused = set()

    # --- reading ------------------------------------------------------------------------

    def read(self, ranges: tuple[PartitionRange, ...], *, batch: int, timeout: float,
             on_error: Callable[[Any], None]) -> Iterator[list[Any]]:
        """The messages of ``ranges`` in offset order per partition, ``batch`` at a time."""
        confluent = kafka()
        self.position(ranges)
        ends = {(r.topic, r.partition): r.end for r in ranges}
        todo = set(ends)
        pending: list[Any] = []
        for tp in list(todo):
            stash = self.stash.get(tp)
            while stash and stash[0].offset() < ends[tp]:
                pending.append(stash.popleft())
            if (stash and stash[0].offset() >= ends[tp]) or self.fetched[tp] >= ends[tp]:
                todo.discard(tp)
        last_progress = time.monotonic()
        while todo:
            if len(pending) >= batch:
                yield pending
                pending = []
            # The client waits until it has as many messages as asked (or the timeout): ask
            # for what the ranges still need, or a live stream waits out every timeout.
            want = sum(ends[tp] - (self._next(tp) or 0) for tp in todo)
            got = self.consumer.consume(max(min(want, CONSUME_CHUNK), 1), timeout=0.2)
            for message in got:
                error = message.error()
                if error is not None:
                    if error.code() != confluent.KafkaError._PARTITION_EOF:
                        on_error(error)
                    continue
                tp = (message.topic(), message.partition())
                offset = message.offset()
                if offset < self.fetched.get(tp, 0):
                    continue  # already handed out or stashed
                self.fetched[tp] = offset + 1
                if tp in todo and offset < ends[tp]:
                    pending.append(message)
                    if offset + 1 >= ends[tp]:
                        todo.discard(tp)
                    continue
                todo.discard(tp)  # past its end (a gap before it): this range is complete
                self._keep(tp, message)
            if got:
                last_progress = time.monotonic()
                continue
            # Offsets may have gaps (compaction, transaction markers): where does the
            # client stand?
            asked = [confluent.TopicPartition(t, p) for t, p in todo]
            with contextlib.suppress(Exception):  # no position yet: keep waiting
                for part in self.consumer.position(asked):
                    if part.offset >= ends[(part.topic, part.partition)]:
                        todo.discard((part.topic, part.partition))
            if todo and time.monotonic() - last_progress > timeout:
                raise ReadStalled(", ".join(f"{t}/{p}@{self._next((t, p))}"
                                            for t, p in sorted(todo)))
        if pending:
            yield pending

    def _keep(self, tp: TP, message: Any) -> None:
        stash = self.stash.setdefault(tp, deque())
        stash.append(message)
        if len(stash) >= self.read_ahead and tp not in self.paused:
            # Pausing drops what the client has queued for the partition; it fetches again
            # from the last consumed offset on resume, so nothing is skipped.
            self.consumer.pause([kafka().TopicPartition(tp[0], tp[1])])
            self.paused.add(tp)


class ReaderPool:
    """Range readers kept between micro-batches (one per settings), handed out exclusively."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._idle: dict[tuple[tuple[str, str], ...], list[RangeReader]] = {}

    @contextlib.contextmanager
    def reader(self, settings: dict[str, Any], read_ahead: int) -> Iterator[RangeReader]:
        key = tuple(sorted((k, repr(v)) for k, v in settings.items()))
        with self._lock:
            idle = self._idle.setdefault(key, [])
            reader = idle.pop() if idle else None
        if reader is None:
            reader = RangeReader(settings, read_ahead)
        try:
            yield reader
        except BaseException:
            reader.close()  # its position is unknown now
            raise
        with self._lock:
            self._idle.setdefault(key, []).append(reader)

    def close(self) -> None:
        with self._lock:
            readers = [r for idle in self._idle.values() for r in idle]
            self._idle.clear()
        for reader in readers:
            reader.close()


POOL = ReaderPool()
