"""Baseline of bench/kafka_stream.py: the same job as a hand-written confluent-kafka loop.

What a competent engineer writes without a framework, with the same guarantees as dteg's
stream: subscribe to the topic, collect messages until ``--flush-records`` or
``--flush-seconds``, parse the batch with pyarrow's JSON reader (one buffer per batch), replace
``email`` by hex HMAC-SHA256(key, email) with ``hmac``, write one Parquet part file (written to a
temporary name, renamed into place), then commit the offsets synchronously (at-least-once:
offsets only after the file is durable). Poison messages are not handled (the generated topic
has none). Writes ``--stats`` JSON: records, seconds from the first message to the last commit,
and end-to-end latency percentiles (Kafka timestamp → commit).

    BENCH_MASK_KEY=k python bench/baselines/kafka_consume_loop.py --bootstrap 127.0.0.1:59092 \
        --topic t --group g --output out/ --max-records 1000000 --stats stats.json
"""

from __future__ import annotations

import argparse
import hmac
import io
import json
import os
import sys
import time
import uuid

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
from confluent_kafka import Consumer, TopicPartition


def run(args: argparse.Namespace, key: bytes) -> dict[str, float | int | None]:
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": args.group,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760,
        "fetch.wait.max.ms": 100,
    })
    consumer.subscribe([args.topic])
    os.makedirs(args.output, exist_ok=True)
    pending: list = []
    batch_started = 0.0
    total = 0
    first_message: float | None = None
    last_commit = 0.0
    latencies: list[float] = []
    try:
        while total < args.max_records:
            messages = consumer.consume(10_000, timeout=0.1)
            for m in messages:
                if m.error() is None:
                    if not pending:
                        batch_started = time.monotonic()
                    pending.append(m)
            if first_message is None and pending:
                first_message = time.monotonic()
            full = len(pending) >= args.flush_records or total + len(pending) >= args.max_records
            due = pending and time.monotonic() - batch_started >= args.flush_seconds
            if pending and (full or due):
                flush(consumer, pending, args.output, key)
                now = time.time()
                latencies.extend(now - m.timestamp()[1] / 1000 for m in pending)
                total += len(pending)
                pending = []
                last_commit = time.monotonic()
    finally:
        consumer.close()
    latencies.sort()

    def pct(q: float) -> float | None:
        return latencies[min(int(q / 100 * len(latencies)), len(latencies) - 1)] \
            if latencies else None

    return {"records": total, "active_seconds": last_commit - (first_message or last_commit),
            "latency_p50_seconds": pct(50), "latency_p99_seconds": pct(99)}


def flush(consumer: Consumer, messages: list, folder: str, key: bytes) -> None:
    data = b"\n".join(m.value() for m in messages)
    table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(
        block_size=max(len(data) + 1, 1 << 16)))
    emails = table.column("email").to_pylist()
    hashed = pa.array([None if e is None else hmac.digest(key, e.encode(), "sha256").hex()
                       for e in emails], pa.string())
    table = table.set_column(table.schema.get_field_index("email"), "email", hashed)
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp = os.path.join(folder, f".{name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, os.path.join(folder, name))
    ends: dict[tuple[str, int], int] = {}
    for m in messages:
        ends[(m.topic(), m.partition())] = max(ends.get((m.topic(), m.partition()), 0),
                                               m.offset() + 1)
    consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()],
                    asynchronous=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--max-records", type=int, required=True)
    parser.add_argument("--flush-records", type=int, default=200_000)
    parser.add_argument("--flush-seconds", type=float, default=0.5)
    parser.add_argument("--stats", required=True)
    args = parser.parse_args(argv)
    stats = run(args, os.environ["BENCH_MASK_KEY"].encode("utf-8"))
    with open(args.stats, "w", encoding="utf-8") as fh:
        json.dump(stats, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
