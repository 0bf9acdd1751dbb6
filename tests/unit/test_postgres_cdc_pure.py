"""postgres_cdc without a server: pgoutput messages decode into changes and Arrow columns,
and merge sinks delete keys and order by LSN (DuckDB is embedded, so this runs here)."""

from __future__ import annotations

import struct
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from pydantic import ValidationError

from dteg.connectors.duckdb.config import SinkConfig
from dteg.connectors.postgres_cdc.config import SourceConfig
from dteg.connectors.postgres_cdc.pgoutput import (
    PG_EPOCH_US,
    Decoder,
    arrow_type,
    lsn_int,
    lsn_text,
    to_batches,
)
from dteg.testing import check_sink


def _s(text: str) -> bytes:
    return text.encode() + b"\0"


def _tuple(*values: str | None) -> bytes:
    out = struct.pack(">H", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v == "<toast>":
            out += b"u"
        else:
            out += b"t" + struct.pack(">I", len(v.encode())) + v.encode()
    return out


def _relation() -> bytes:
    cols = [(1, "id", 23, -1), (0, "name", 25, -1), (0, "price", 1700, (10 << 16 | 2) + 4),
            (0, "at", 1184, -1), (0, "ok", 16, -1)]
    body = struct.pack(">I", 16384) + _s("public") + _s("items") + b"d" + struct.pack(
        ">H", len(cols))
    for flags, name, oid, typmod in cols:
        body += bytes([flags]) + _s(name) + struct.pack(">Ii", oid, typmod)
    return b"R" + body


def _transaction(decoder: Decoder) -> None:
    ts = 1_000_000  # 1 s after 2000-01-01
    assert decoder.feed(b"B" + struct.pack(">QqI", 0x200, ts, 7), 0x100) is None
    decoder.feed(_relation(), 0x100)
    decoder.feed(b"I" + struct.pack(">I", 16384) + b"N" + _tuple(
        "1", "a", "12.50", "2026-12-02 10:00:00.25+00", "t"), 0x110)
    decoder.feed(b"U" + struct.pack(">I", 16384) + b"N" + _tuple(
        "1", "<toast>", "13.00", None, "f"), 0x120)
    decoder.feed(b"D" + struct.pack(">I", 16384) + b"K" + _tuple(
        "2", None, None, None, None), 0x130)


def test_a_transaction_decodes_into_changes_and_typed_columns() -> None:
    decoder = Decoder()
    _transaction(decoder)
    txn = decoder.feed(b"C" + struct.pack(">bQQq", 0, 0x200, 0x230, 2_000_000), 0x200)
    assert txn is not None and txn.end_lsn == 0x230
    assert txn.commit_ts_us == PG_EPOCH_US + 2_000_000
    assert [c.op for c in txn.changes] == ["insert", "update", "delete"]
    (batch,) = to_batches([txn], decoder.relations, with_table=False)
    assert batch.schema.names == ["id", "name", "price", "at", "ok", "_op", "_lsn",
                                  "_commit_ts"]
    assert batch.column("id").to_pylist() == [1, 1, 2]
    assert batch.column("name").to_pylist() == ["a", None, None]  # unchanged TOAST: null
    assert batch.schema.field("price").type == pa.decimal128(10, 2)
    assert str(batch.column("price")[1]) == "13.00"
    assert batch.column("at")[0].as_py().isoformat() == "2026-12-02T10:00:00.250000+00:00"
    assert batch.column("ok").to_pylist() == [True, False, None]
    assert batch.column("_lsn").to_pylist() == [0x110, 0x120, 0x130]


def test_lsn_text_round_trips_and_types_fall_back_to_text() -> None:
    assert lsn_text(lsn_int("16/B374D848")) == "16/B374D848"
    assert arrow_type(2950, -1) == pa.string()  # uuid
    assert arrow_type(1700, -1) == pa.string()  # numeric without precision


def test_config_names_and_refuses_bad_tables() -> None:
    config = SourceConfig.model_validate({"url": "postgresql://u:p@h/db",
                                          "tables": ["public.orders"]})
    assert config.names("My-Pipe", "extract") == ("dteg_my_pipe_extract",
                                                   "dteg_my_pipe_extract")
    with pytest.raises(ValidationError, match="is not a table"):
        SourceConfig.model_validate({"url": "postgresql://u:p@h/db", "tables": ["orders; d"]})
    with pytest.raises(ValidationError, match="apply to `mode: merge` only"):
        SinkConfig.model_validate({"table": "t", "mode": "append", "delete_column": "_op"})


def test_duckdb_merge_applies_deletes_and_orders_by_lsn(tmp_path: Path) -> None:
    config = {"database": "w.duckdb", "table": "t", "mode": "merge", "key": "id",
              "order_by": "_lsn", "delete_column": "_op"}
    first = pa.record_batch({"id": [1, 2, 3], "v": ["a", "b", "c"],
                             "_op": ["insert"] * 3, "_lsn": [10, 11, 12]})
    check_sink("duckdb", config, [first], base_dir=tmp_path)
    # Staged out of order on purpose: the greatest _lsn per key wins, not the last staged.
    later = pa.record_batch({"id": [2, 1, 4, 4, 3, 1], "v": ["b2", None, "d", "d0", "c2", "x"],
                             "_op": ["update", "delete", "insert", "insert", "update",
                                     "update"],
                             "_lsn": [20, 22, 25, 24, 26, 21]})
    check_sink("duckdb", config, [later], base_dir=tmp_path)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT id, v, _op FROM t ORDER BY id").fetchall() == [
        (2, "b2", "update"), (3, "c2", "update"), (4, "d", "insert")]
    con.close()


def test_duckdb_merge_into_a_new_table_leaves_deleted_keys_out(tmp_path: Path) -> None:
    config = {"database": "w.duckdb", "table": "t", "mode": "merge", "key": "id",
              "delete_column": "_op"}
    batch = pa.record_batch({"id": [1, 2, 1], "_op": ["insert", "insert", "delete"]})
    check_sink("duckdb", config, [batch], base_dir=tmp_path, parts=1)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT id FROM t").fetchall() == [(2,)]
    con.close()
