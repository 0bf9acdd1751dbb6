"""Schema evolution at the DuckDB sink (the same policies as the SQL database sinks)."""

from __future__ import annotations

import decimal

import duckdb
import pyarrow as pa
import pytest

from dteg.errors import ConnectorError
from dteg.testing import check_sink


def _load(tmp_path, batch: pa.RecordBatch, **config) -> None:
    check_sink("duckdb", {"database": "w.duckdb", "table": "t", **config}, [batch],
               base_dir=tmp_path, parts=1)


def _rows(tmp_path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


FIRST = pa.record_batch({"id": pa.array([1, 2], pa.int32()),
                         "amount": pa.array([decimal.Decimal("1.50")] * 2, pa.decimal128(6, 2))})
SECOND = pa.record_batch({"id": pa.array([3], pa.int64()),
                          "amount": pa.array([decimal.Decimal("12345.125")], pa.decimal128(9, 3)),
                          "channel": pa.array(["web"])})


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_evolve_adds_columns_and_widens_types(tmp_path, mode) -> None:
    _load(tmp_path, FIRST, mode=mode, key="id")
    _load(tmp_path, SECOND, mode=mode, key="id")
    assert _rows(tmp_path, "SELECT id, amount, channel FROM t ORDER BY id") == [
        (1, decimal.Decimal("1.500"), None), (2, decimal.Decimal("1.500"), None),
        (3, decimal.Decimal("12345.125"), "web")]
    types = dict(_rows(tmp_path, "SELECT column_name, data_type FROM information_schema.columns"
                       " WHERE table_name = 't'"))
    assert types == {"id": "BIGINT", "amount": "DECIMAL(9,3)", "channel": "VARCHAR"}


def test_freeze_names_new_and_changed_columns_and_changes_nothing(tmp_path) -> None:
    _load(tmp_path, FIRST)
    with pytest.raises(ConnectorError) as exc:
        _load(tmp_path, SECOND, schema_evolution="freeze")
    assert "new column(s) channel (VARCHAR)" in str(exc.value)
    assert "changed column(s) id (INTEGER → BIGINT)" in str(exc.value)
    assert _rows(tmp_path, "SELECT count(*) FROM t") == [(2,)]


def test_discard_columns_loads_only_the_tables_columns(tmp_path) -> None:
    _load(tmp_path, FIRST)
    narrow = pa.record_batch({"id": pa.array([7], pa.int16()), "extra": pa.array([1.0])})
    _load(tmp_path, narrow, schema_evolution="discard_columns")
    assert _rows(tmp_path, "SELECT id, amount FROM t WHERE id = 7") == [(7, None)]
    assert [r[0] for r in _rows(tmp_path, "DESCRIBE t")] == ["id", "amount"]


def test_a_lossy_type_change_is_refused_in_every_mode(tmp_path) -> None:
    _load(tmp_path, FIRST)
    text = pa.record_batch({"id": pa.array(["x"]), "amount": pa.array([None], pa.decimal128(6, 2))})
    with pytest.raises(ConnectorError, match=r"cannot hold .* id \(table: INTEGER, data: VARCHAR"):
        _load(tmp_path, text)
