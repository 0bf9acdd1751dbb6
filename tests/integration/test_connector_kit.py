"""Our own connectors pass the kit we ship to connector authors (dteg.testing)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dteg.testing import check_sink, check_source, check_stage

BATCH = pa.record_batch({
    "id": pa.array([1, 2, 3], pa.int64()),
    "email": pa.array(["a@x.io", None, "bad"], pa.string()),
    "amount": pa.array([1.5, -2.0, 3.25], pa.float64()),
})


@pytest.mark.parametrize(("name", "path"), [
    ("csv", "out/x.csv"), ("jsonl", "out/x.jsonl"), ("parquet", "out/x.parquet"),
    ("avro", "out/x.avro"), ("csv", "out/folder/"),
])
def test_file_sinks_round_trip_through_their_sources(tmp_path: Path, name: str,
                                                     path: str) -> None:
    committed = check_sink(name, {"path": path}, [BATCH, BATCH], base_dir=tmp_path)
    assert committed.rows == 6
    pattern = path + "*" if path.endswith("/") else path
    table, dead = check_source(name, {"path": pattern}, base_dir=tmp_path)
    assert table.num_rows == 6
    assert dead.num_rows == 0
    assert sorted(table.column("id").to_pylist()) == [1, 1, 2, 2, 3, 3]


def test_duckdb_sink_and_source(tmp_path: Path) -> None:
    config = {"database": "w.duckdb", "table": "t", "mode": "merge", "key": "id"}
    check_sink("duckdb", config, [BATCH, BATCH], base_dir=tmp_path)
    table, _ = check_source("duckdb", {"database": "w.duckdb", "table": "t"},
                            base_dir=tmp_path)
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3]


def test_stages_account_for_every_row(tmp_path: Path) -> None:
    result = check_stage("validate", {"rules": [
        {"type": "null_check", "column": "email"},
        {"type": "range_check", "column": "amount", "min": 0, "on_failure": "drop"},
    ]}, BATCH, base_dir=tmp_path)
    assert result.kept is not None and result.kept.column("id").to_pylist() == [1, 3]
    assert result.rejected is not None and result.rejected.num_rows == 1
    masked = check_stage("mask", {"columns": {"email": "email"}}, BATCH, base_dir=tmp_path)
    assert masked.kept is not None
    assert masked.kept.column("email").to_pylist() == ["***@x.io", None, "***"]
    filtered = check_stage("filter", {"where": "amount > 0"}, BATCH, base_dir=tmp_path)
    assert filtered.filtered == 1


@pytest.mark.parametrize(("name", "path"), [
    ("csv", "out/x.csv"), ("jsonl", "out/x.jsonl"), ("parquet", "out/x.parquet"),
    ("avro", "out/x.avro"), ("parquet", "out/folder/"),
])
def test_zero_rows_round_trip_through_file_sinks_and_sources_with_their_columns(
        tmp_path: Path, name: str, path: str) -> None:
    committed = check_sink(name, {"path": path}, [BATCH.slice(0, 0)], base_dir=tmp_path)
    assert committed.rows == 0
    pattern = path + "*" if path.endswith("/") else path
    config = {"path": pattern}
    if name == "jsonl":  # an empty JSON Lines file says nothing about its columns
        config["schema"] = {"id": "int64", "email": "string", "amount": "double"}
    table, dead = check_source(name, config, base_dir=tmp_path)
    assert (table.num_rows, dead.num_rows) == (0, 0)
    assert table.schema.names == ["id", "email", "amount"]


def test_duckdb_replace_with_zero_rows_empties_the_table_and_keeps_its_columns(
        tmp_path: Path) -> None:
    config = {"database": "w.duckdb", "table": "t", "mode": "replace"}
    check_sink("duckdb", config, [BATCH], base_dir=tmp_path)
    assert check_sink("duckdb", config, [BATCH.slice(0, 0)], base_dir=tmp_path).rows == 0
    table, _ = check_source("duckdb", {"database": "w.duckdb", "table": "t"},
                            base_dir=tmp_path)
    assert (table.num_rows, table.schema.names) == (0, ["id", "email", "amount"])
