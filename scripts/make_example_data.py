"""Write the small binary example inputs in pipelines/data/ (Parquet, Avro). Deterministic;
the outputs are committed, this script is how they were made."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent.parent / "pipelines" / "data"


def orders(n: int = 500) -> pa.Table:
    rng = random.Random(7)
    start = dt.datetime(2024, 1, 1)
    return pa.table({
        "order_id": pa.array(range(1, n + 1), pa.int64()),
        "customer_id": pa.array([rng.randint(1, 13) for _ in range(n)], pa.int64()),
        "amount": pa.array([round(rng.uniform(-20, 500), 2) for _ in range(n)], pa.float64()),
        "currency": pa.array([rng.choice(["KRW", "USD", "EUR", "JPY"]) for _ in range(n)]),
        "status": pa.array([rng.choice(["paid", "paid", "paid", "refunded", "pending"])
                            for _ in range(n)]),
        "ordered_at": pa.array([start + dt.timedelta(minutes=37 * i) for i in range(n)],
                               pa.timestamp("us")),
    })


def main() -> None:
    table = orders()
    pq.write_table(table, DATA / "orders.parquet")
    schema = fastavro.parse_schema({
        "type": "record", "name": "Order", "fields": [
            {"name": "order_id", "type": "long"},
            {"name": "customer_id", "type": "long"},
            {"name": "amount", "type": "double"},
            {"name": "currency", "type": "string"},
            {"name": "status", "type": {"type": "enum", "name": "Status",
                                        "symbols": ["paid", "refunded", "pending"]}},
            {"name": "ordered_at", "type": {"type": "long",
                                            "logicalType": "local-timestamp-micros"}},
        ]})
    with open(DATA / "orders.avro", "wb") as fh:
        fastavro.writer(fh, schema, table.to_pylist(), codec="deflate")


if __name__ == "__main__":
    main()
