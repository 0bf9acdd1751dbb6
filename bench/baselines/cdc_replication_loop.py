"""Baseline for bench/cdc_bench.py: a hand-written psycopg2 logical replication loop.

Streams pgoutput from a slot, decodes inserts/updates/deletes of the bench table (id bigint,
v integer, note text) by hand, and every --batch-seconds (or --batch-rows) merges the batch
into the same DuckDB table the dteg pipeline writes (last change per key wins, deletes
delete), commits, then confirms the slot's flush LSN — the same guarantee dteg gives. No
dteg import. Prints one JSON line: changes, active seconds, latency p50/p99 (commit in
PostgreSQL → DuckDB commit), like `dteg stream --report-json`.

    python cdc_replication_loop.py DSN SLOT PUBLICATION DB --max-records N
"""

from __future__ import annotations

import argparse
import json
import select
import struct
import time

import duckdb
import numpy as np
import psycopg2
import psycopg2.extras
import pyarrow as pa

EPOCH_2000_US = 946_684_800_000_000


def tuple_values(data: bytes, pos: int) -> tuple[list[str | None], int]:
    (n,) = struct.unpack_from(">H", data, pos)
    pos += 2
    out: list[str | None] = []
    for _ in range(n):
        kind = data[pos:pos + 1]
        pos += 1
        if kind == b"t":
            (length,) = struct.unpack_from(">I", data, pos)
            out.append(data[pos + 4:pos + 4 + length].decode())
            pos += 4 + length
        else:
            out.append(None)
    return out, pos


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dsn")
    ap.add_argument("slot")
    ap.add_argument("publication")
    ap.add_argument("db")
    ap.add_argument("--max-records", type=int, required=True)
    ap.add_argument("--batch-rows", type=int, default=50_000)
    ap.add_argument("--batch-seconds", type=float, default=0.5)
    args = ap.parse_args()

    sink = duckdb.connect(args.db)
    sink.execute("CREATE TABLE IF NOT EXISTS items (id BIGINT PRIMARY KEY, v INTEGER, "
                 "note VARCHAR, _op VARCHAR, _lsn BIGINT)")
    con = psycopg2.connect(args.dsn,
                           connection_factory=psycopg2.extras.LogicalReplicationConnection)
    cur = con.cursor()
    cur.start_replication(slot_name=args.slot, decode=False, options={
        "proto_version": "1", "publication_names": args.publication})
    ids: list[int] = []
    vs: list[int | None] = []
    notes: list[str | None] = []
    ops: list[str] = []
    lsns: list[int] = []
    stamps: list[int] = []
    txn_rows = 0
    commit_end = 0
    pending_end = 0
    total = 0
    latencies: list[np.ndarray] = []
    first = last = 0.0
    batch_started = time.monotonic()

    def flush() -> None:
        nonlocal batch_started, ids, vs, notes, ops, lsns, stamps, first, last
        if ids:
            table = pa.table({"id": pa.array(ids, pa.int64()), "v": pa.array(vs, pa.int32()),
                              "note": notes, "_op": ops, "_lsn": pa.array(lsns, pa.int64())})
            sink.register("batch", table)
            sink.execute("BEGIN")
            last_rows = ("SELECT * FROM batch QUALIFY row_number() OVER (PARTITION BY id "
                         "ORDER BY _lsn DESC) = 1")
            sink.execute(f"DELETE FROM items WHERE id IN (SELECT id FROM ({last_rows}))")
            sink.execute(f"INSERT INTO items SELECT * FROM ({last_rows}) WHERE _op <> 'delete'")
            sink.execute("COMMIT")
            sink.unregister("batch")
            now_us = time.time() * 1e6
            latencies.append((now_us - np.asarray(stamps, dtype=np.float64)) / 1e6)
            cur.send_feedback(flush_lsn=pending_end, force=True)
            last = time.monotonic()
        ids, vs, notes, ops, lsns, stamps = [], [], [], [], [], []
        batch_started = time.monotonic()

    commit_ts = 0
    while total < args.max_records:
        msg = cur.read_message()
        if msg is None:
            if ids and time.monotonic() - batch_started >= args.batch_seconds:
                flush()
            select.select([con], [], [], 0.05)
            continue
        first = first or time.monotonic()  # active from the first change received
        data = msg.payload
        kind = data[:1]
        if kind == b"B":
            _final, commit_ts, _xid = struct.unpack_from(">QqI", data, 1)
            txn_rows = 0
        elif kind in (b"I", b"U", b"D"):
            pos = 5
            if kind == b"U" and data[pos:pos + 1] in (b"K", b"O"):
                _old, pos = tuple_values(data, pos + 1)
            values, _ = tuple_values(data, pos + 1)
            ids.append(int(values[0]))  # type: ignore[arg-type]
            vs.append(None if values[1] is None else int(values[1]))
            notes.append(values[2])
            ops.append({b"I": "insert", b"U": "update", b"D": "delete"}[kind])
            lsns.append(msg.data_start)
            stamps.append(commit_ts + EPOCH_2000_US)
            txn_rows += 1
        elif kind == b"C":
            _f, _c, commit_end, _ts = struct.unpack_from(">bQQq", data, 1)
            # The commit time was only known at Begin for proto 1 (the same value).
            pending_end = commit_end
            total += txn_rows
            if len(ids) >= args.batch_rows:
                flush()
    flush()
    lat = np.concatenate(latencies) if latencies else np.zeros(0)
    print(json.dumps({"read": total, "active_seconds": last - first,
                      "latency_p50_seconds": float(np.percentile(lat, 50)) if lat.size else None,
                      "latency_p99_seconds": float(np.percentile(lat, 99)) if lat.size else None}))
    con.close()
    sink.close()


if __name__ == "__main__":
    main()
