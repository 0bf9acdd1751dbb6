"""Dead letters of a stage name the file and line its record was read from: sources carry
each row's provenance beside the data, and sinks never write it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from dteg.components.records import (
    PROVENANCE_COLUMNS,
    sources_of,
    with_provenance,
    without_provenance,
)
from dteg.components.testkit import build, context


def _read(tmp_path: Path, text: str) -> list[pa.RecordBatch]:
    (tmp_path / "people.csv").write_text(text)
    reader = build("source", "csv", {"path": "people.csv"}, context(tmp_path, step="people"))
    return [b for s in reader.splits() for b in reader.read(s)
            if isinstance(b, pa.RecordBatch)]


def test_a_validate_dead_letter_names_the_csv_file_and_line(tmp_path: Path) -> None:
    batches = _read(tmp_path, "id,age\n1,30\n2,\n3,41\n4,\n")
    stage = build("transform", "validate", {"rules": [
        {"type": "null_check", "column": "age", "on_failure": "quarantine"}]},
        context(tmp_path, step="checks"))
    result = stage.apply(batches[0])
    path = str(tmp_path / "people.csv")
    assert result.rejected.column("source").to_pylist() == [f"{path}:3", f"{path}:5"]
    records = [json.loads(r) for r in result.rejected.column("record").to_pylist()]
    assert records == [{"id": 2, "age": None}, {"id": 4, "age": None}]  # no hidden columns
    assert sources_of(result.kept) == [f"{path}:2", f"{path}:4"]


def test_rows_after_a_rejected_value_keep_their_own_lines(tmp_path: Path) -> None:
    # Line 3 does not fit its column's type (the careful path): the kept rows keep lines 2, 4.
    (tmp_path / "people.csv").write_text("id,age\n1,30\n2,old\n3,41\n")
    reader = build("source", "csv", {"path": "people.csv", "schema": {"age": "int64"}},
                   context(tmp_path, step="people"))
    kept = [b for s in reader.splits() for b in reader.read(s) if isinstance(b, pa.RecordBatch)]
    path = str(tmp_path / "people.csv")
    assert sources_of(kept[0]) == [f"{path}:2", f"{path}:4"]


def test_a_unique_dead_letter_names_the_file_and_line_of_the_duplicate(tmp_path: Path) -> None:
    from dteg.transforms.unique import UniqueCheck
    from dteg.transforms.validate import Rule

    first = with_provenance(pa.record_batch({"id": [1, 2]}), "a.csv:{}", first=2)
    second = with_provenance(pa.record_batch({"id": [3, 1]}), "b.csv:{}", first=2)
    check = UniqueCheck(Rule(type="unique", column="id"), "unique", "quarantine",
                        context(tmp_path, step="checks"))
    result = check.check([first, second])
    assert result.rejected.column("source").to_pylist() == ["b.csv:3"]
    assert json.loads(result.rejected.column("record")[0].as_py()) == {"id": 1}


def test_sinks_and_users_never_see_the_provenance_columns() -> None:
    batch = with_provenance(pa.record_batch({"a": [1, 2]}), "orders/0@{}", first=41)
    assert sources_of(batch) == ["orders/0@41", "orders/0@42"]
    assert sources_of(batch, [1]) == ["orders/0@42"]
    assert without_provenance(batch).schema.names == ["a"]
    assert not set(PROVENANCE_COLUMNS) & set(without_provenance(batch).schema.names)
    assert sources_of(pa.record_batch({"a": [1]})) is None


def test_jsonl_rows_carry_their_lines(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"id": 1}\n\n{"id": 2}\n')
    reader = build("source", "jsonl", {"path": "events.jsonl"}, context(tmp_path, step="ev"))
    kept = [b for s in reader.splits() for b in reader.read(s) if isinstance(b, pa.RecordBatch)]
    path = str(tmp_path / "events.jsonl")
    assert sources_of(kept[0]) == [f"{path}:1", f"{path}:3"]


def _typed_files(tmp_path: Path) -> None:
    import fastavro
    import pyarrow.parquet as pq

    rows = [{"id": i, "age": a} for i, a in enumerate(["30", "old", "41", "52", "x"], 1)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "people.parquet", row_group_size=3)
    with open(tmp_path / "people.avro", "wb") as out:
        fastavro.writer(out, {"type": "record", "name": "p", "fields": [
            {"name": "id", "type": "long"}, {"name": "age", "type": "string"}]}, rows)


@pytest.mark.parametrize("kind,word", [("parquet", "row"), ("avro", "record")])
def test_parquet_and_avro_rows_carry_their_row_numbers(tmp_path: Path, kind: str,
                                                       word: str) -> None:
    # Rows 2 and 5 do not fit the declared type: the rows kept keep their own numbers, also
    # in the second row group / batch.
    _typed_files(tmp_path)
    reader = build("source", kind, {"path": f"people.{kind}", "schema": {"age": "int64"},
                                    "batch_rows": 3}, context(tmp_path, step="people"))
    kept = [b for s in reader.splits() for b in reader.read(s)
            if isinstance(b, pa.RecordBatch) and b.num_rows]
    path = str(tmp_path / f"people.{kind}")
    assert [s for b in kept for s in sources_of(b) or []] == [
        f"{path} ({word} {n})" for n in (1, 3, 4)]


def test_a_validate_dead_letter_names_the_parquet_row(tmp_path: Path) -> None:
    _typed_files(tmp_path)
    reader = build("source", "parquet", {"path": "people.parquet"},
                   context(tmp_path, step="people"))
    batches = [b for s in reader.splits() for b in reader.read(s)
               if isinstance(b, pa.RecordBatch) and b.num_rows]
    stage = build("transform", "validate", {"rules": [
        {"type": "format_check", "column": "age", "pattern": "[0-9]+"}]},
        context(tmp_path, step="checks"))
    sources = [s for b in batches for s in stage.apply(b).rejected.column("source").to_pylist()]
    path = str(tmp_path / "people.parquet")
    assert sources == [f"{path} (row 2)", f"{path} (row 5)"]


def test_kafka_rows_carry_topic_partition_and_offset(tmp_path: Path) -> None:
    from dteg.connectors.kafka.source import KafkaReader

    class Message:
        def __init__(self, partition: int, offset: int, value: bytes) -> None:
            self._p, self._o, self._v = partition, offset, value

        def topic(self) -> str:
            return "orders"

        def partition(self) -> int:
            return self._p

        def offset(self) -> int:
            return self._o

        def value(self) -> bytes:
            return self._v

    reader = build("source", "kafka", {"bootstrap_servers": "127.0.0.1:1", "topic": "orders"},
                   context(tmp_path, step="orders"))
    assert isinstance(reader, KafkaReader)
    messages = [Message(0, 41, b'{"id": 1}'), Message(0, 42, b"oops"), Message(3, 7, b'{"id": 2}')]
    out = list(reader._decode(messages, [m.value() for m in messages], [0, 0, 0]))
    kept = [b for b in out if isinstance(b, pa.RecordBatch)]
    assert [s for b in kept for s in sources_of(b) or []] == ["orders/0@41", "orders/3@7"]


def test_rows_a_filter_keeps_keep_their_lines(tmp_path: Path) -> None:
    batches = _read(tmp_path, "id,age\n1,30\n2,5\n3,41\n")
    stage = build("transform", "filter", {"where": "age > 10"}, context(tmp_path, step="f"))
    result = stage.apply(batches[0])
    path = str(tmp_path / "people.csv")
    assert sources_of(result.kept) == [f"{path}:2", f"{path}:4"] and result.filtered == 1
    empty = pa.RecordBatch.from_pylist([], schema=pa.schema([("age", pa.string())]))
    assert stage.apply(empty).kept.schema.names == ["age"]  # text: the SQL is not run


def test_rows_of_a_database_table_name_the_table(tmp_path: Path) -> None:
    import duckdb

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("CREATE TABLE people AS SELECT 1 AS id")
    reader = build("source", "duckdb", {"database": "w.duckdb", "table": "people"},
                   context(tmp_path, step="people"))
    batches = [b for s in reader.splits() for b in reader.read(s) if isinstance(b, pa.RecordBatch)]
    assert sources_of(batches[0]) == [f"duckdb {tmp_path / 'w.duckdb'} people"]
    assert without_provenance(batches[-1]).schema.names == ["id"]
