"""Dead letters of a stage name the file and line its record was read from: sources carry
each row's provenance beside the data, and sinks never write it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

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
