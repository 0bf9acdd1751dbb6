"""Decode pgoutput (protocol version 1) messages into changes, and changes into Arrow.

pgoutput is PostgreSQL's built-in logical decoding plugin (the one logical replication
subscribers use), so the source needs no server extension. Values arrive in PostgreSQL's text
format; the Relation message before a table's first change names its columns and type OIDs.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since the Unix epoch
UNCHANGED = object()  # a TOASTed value the update did not touch (pgoutput sends no value)


@dataclass
class Relation:
    relid: int
    schema: str
    name: str
    columns: list[tuple[str, int, int]]  # (name, type oid, typmod)
    keys: list[str]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class Change:
    op: str  # insert, update, delete
    relid: int
    values: list[Any]  # text per column, None, or UNCHANGED
    lsn: int
    # The table's columns when the change was made (DDL re-sends Relation before the next
    # change; changes before and after it must not share one schema).
    relation: Relation | None = None


@dataclass
class Transaction:
    """One committed transaction: its changes in WAL order, its commit LSNs and time."""

    xid: int
    begin_lsn: int
    commit_ts_us: int = 0
    end_lsn: int = 0
    changes: list[Change] = field(default_factory=list)


class Decoder:
    """Feeds on pgoutput messages in stream order; hands out each committed transaction."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self.current: Transaction | None = None
        self.truncated: list[str] = []  # tables truncated (not applied; reported)

    def feed(self, payload: bytes, lsn: int) -> Transaction | None:
        kind = payload[:1]
        if kind == b"B":
            final_lsn, ts, xid = struct.unpack_from(">QqI", payload, 1)
            self.current = Transaction(xid, final_lsn, commit_ts_us=ts + PG_EPOCH_US)
        elif kind == b"C":
            _flags, _commit_lsn, end_lsn, ts = struct.unpack_from(">bQQq", payload, 1)
            done, self.current = self.current, None
            if done is not None:
                done.end_lsn = end_lsn
                done.commit_ts_us = ts + PG_EPOCH_US
            return done
        elif kind == b"R":
            self._relation(payload)
        elif kind in (b"I", b"U", b"D"):
            self._change(kind, payload, lsn)
        elif kind == b"T":
            (count,) = struct.unpack_from(">I", payload, 1)
            relids = struct.unpack_from(f">{count}I", payload, 6)
            self.truncated += [self.relations[r].qualified for r in relids
                               if r in self.relations]
        # Y (type), O (origin), M (message): nothing to load.
        return None

    def _relation(self, payload: bytes) -> None:
        (relid,) = struct.unpack_from(">I", payload, 1)
        pos = 5
        schema, pos = _string(payload, pos)
        name, pos = _string(payload, pos)
        pos += 1  # replica identity setting
        (ncols,) = struct.unpack_from(">H", payload, pos)
        pos += 2
        columns, keys = [], []
        for _ in range(ncols):
            flags = payload[pos]
            column, pos = _string(payload, pos + 1)
            oid, typmod = struct.unpack_from(">Ii", payload, pos)
            pos += 8
            columns.append((column, oid, typmod))
            if flags & 1:
                keys.append(column)
        self.relations[relid] = Relation(relid, schema, name, columns, keys)

    def _change(self, kind: bytes, payload: bytes, lsn: int) -> None:
        (relid,) = struct.unpack_from(">I", payload, 1)
        pos = 5
        old: list[Any] | None = None
        if kind == b"I":
            pos += 1  # 'N'
            values, pos = _tuple(payload, pos)
            op = "insert"
        elif kind == b"U":
            if payload[pos:pos + 1] in (b"K", b"O"):
                old, pos = _tuple(payload, pos + 1)
            values, pos = _tuple(payload, pos + 1)  # after 'N'
            if old is not None:  # REPLICA IDENTITY FULL: unchanged TOAST values are there
                values = [o if v is UNCHANGED else v for v, o in zip(values, old, strict=False)]
            op = "update"
        else:
            values, pos = _tuple(payload, pos + 1)  # after 'K' or 'O'
            op = "delete"
        if self.current is not None:
            self.current.changes.append(Change(op, relid, values, lsn,
                                               self.relations.get(relid)))


def _string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode(), end + 1


def _tuple(data: bytes, pos: int) -> tuple[list[Any], int]:
    (ncols,) = struct.unpack_from(">H", data, pos)
    pos += 2
    values: list[Any] = []
    for _ in range(ncols):
        kind = data[pos:pos + 1]
        pos += 1
        if kind == b"n":
            values.append(None)
        elif kind == b"u":
            values.append(UNCHANGED)
        else:  # 't' (text); 'b' is never asked for
            (length,) = struct.unpack_from(">I", data, pos)
            pos += 4
            values.append(data[pos:pos + length].decode())
            pos += length
    return values, pos


# --- changes → Arrow ------------------------------------------------------------------------

_INTS = {20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 26: pa.int64()}
_FLOATS = {700: pa.float32(), 701: pa.float64()}
_TEXT_OIDS = {25, 1043, 1042, 19, 114, 3802, 2950}


def arrow_type(oid: int, typmod: int) -> pa.DataType:
    """The Arrow type a column of this PostgreSQL type becomes (text when unsure)."""
    if oid in _INTS:
        return _INTS[oid]
    if oid in _FLOATS:
        return _FLOATS[oid]
    if oid == 16:
        return pa.bool_()
    if oid == 1700 and typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        if 0 < precision <= 38:
            return pa.decimal128(precision, scale)
    if oid == 1082:
        return pa.date32()
    if oid == 1114:
        return pa.timestamp("us")
    if oid == 1184:
        return pa.timestamp("us", "UTC")
    if oid == 17:
        return pa.binary()
    return pa.string()


def _column(texts: list[Any], dtype: pa.DataType) -> pa.Array:
    strings = pa.array([None if v is None or v is UNCHANGED else v for v in texts], pa.string())
    if dtype == pa.string():
        return strings
    if pa.types.is_boolean(dtype):
        # Stream: t/f; snapshot (::text): true/false.
        truth = pc.is_in(strings, pa.array(["t", "true"]))
        return pc.if_else(pc.is_valid(strings), truth, pa.scalar(None, pa.bool_()))
    if pa.types.is_binary(dtype):
        return pa.array([None if v is None else bytes.fromhex(v[2:])
                         for v in strings.to_pylist()], pa.binary())
    if pa.types.is_timestamp(dtype):
        # The walsender runs with TimeZone=UTC: "2026-12-02 12:00:00.5+00".
        plain = pc.replace_substring_regex(strings, r"[+-]\d\d(:\d\d)?$", "")
        return pc.cast(pc.cast(plain, pa.timestamp("us")), dtype)
    return pc.cast(strings, dtype)


def to_batches(transactions: list[Transaction], relations: dict[int, Relation], *,
               with_table: bool) -> list[pa.RecordBatch]:
    """One batch per table (in first-seen order) with its columns (all of them, if DDL
    changed them meanwhile), then
    ``_op``, ``_lsn`` (the change's WAL position) and ``_commit_ts`` (and ``_table`` for
    several tables)."""
    by_table: dict[int, tuple[Relation, list[tuple[Change, Transaction]]]] = {}
    for txn in transactions:
        for change in txn.changes:
            rel = change.relation or relations[change.relid]
            by_table.setdefault(id(rel), (rel, []))[1].append((change, txn))
    layouts: dict[int, list[pa.Table]] = {}
    for rel, rows in by_table.values():
        arrays, names = [], []
        for index, (name, oid, typmod) in enumerate(rel.columns):
            arrays.append(_column([c.values[index] if index < len(c.values) else None
                                   for c, _ in rows], arrow_type(oid, typmod)))
            names.append(name)
        arrays += [pa.array([c.op for c, _ in rows], pa.string()),
                   pa.array([c.lsn for c, _ in rows], pa.int64()),
                   pa.array([t.commit_ts_us for _, t in rows], pa.timestamp("us", "UTC"))]
        names += ["_op", "_lsn", "_commit_ts"]
        if with_table:
            arrays.append(pa.array([rel.qualified] * len(rows), pa.string()))
            names.append("_table")
        layouts.setdefault(rel.relid, []).append(
            pa.Table.from_batches([pa.RecordBatch.from_arrays(arrays, names=names)]))
    # A table whose columns changed (DDL) in these transactions: one batch with every column,
    # NULL where a change had no such column.
    batches = []
    for tables in layouts.values():
        merged = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 \
            else tables[0]
        batches.extend(merged.combine_chunks().to_batches())
    return batches


def lsn_text(lsn: int) -> str:
    """``0/16B3748``, the way PostgreSQL writes an LSN."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_int(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def utc_now_us() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)
