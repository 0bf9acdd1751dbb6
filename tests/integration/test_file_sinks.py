"""File sinks: one file or a folder of parts, `mode: replace | append | error`, compression by
extension, atomic replacement when a run fails, and round trips between formats."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import io
import json
from pathlib import Path

import duckdb
import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from dteg.components.contracts import RunContext
from dteg.connectors.csv.config import SinkConfig as CsvSinkConfig
from dteg.connectors.csv.sink import create as csv_sink
from dteg.connectors.jsonl.config import SinkConfig as JsonlSinkConfig
from dteg.connectors.jsonl.sink import create as jsonl_sink
from tests.integration.test_file_connectors import (
    extract,
    failed,
    landed,
    load,
    make_pipeline,
    ok,
    pq_bytes,
    to_parquet,
    write,
)

CUSTOMERS = (
    "id,name,zip,balance,joined\n"
    '1,"Kim, Ji-ho",01234,10.50,2024-01-31\n'
    '2,"O""Brien",00501,,2024-02-29\n'
    "3,Lee,90210,-3.25,\n"
)


def staging_left(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*dteg-*")
                  if ".dteg-tmp-" in p.name or ".dteg-old-" in p.name)


def read_csv(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:  # type: ignore[operator]
        return list(csv.DictReader(fh))


def test_single_file_and_folder_targets(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/customers.csv", CUSTOMERS)
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/customers.csv"),
        load("parquet", path="out/one.parquet"), load("parquet", path="out/many/"))
    report = ok(run_pipeline(pipeline))
    assert report["loaded"] == 6  # both loads counted
    assert (tmp_path / "out" / "one.parquet").is_file()
    parts = sorted((tmp_path / "out" / "many").iterdir())
    assert len(parts) == 1
    assert parts[0].name.startswith(f"part-{report['run_id']}-")
    assert parts[0].suffix == ".parquet"
    assert landed(tmp_path, "out/one.parquet") == landed(tmp_path, f"out/many/{parts[0].name}")
    assert staging_left(tmp_path) == []


def test_replace_keeps_the_old_output_when_the_run_fails(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/customers.csv", CUSTOMERS)
    targets = [load("csv", path="out/customers.csv"), load("parquet", path="out/parts/")]
    good = make_pipeline(tmp_path, extract("csv", path="data/customers.csv"), *targets)
    ok(run_pipeline(good))
    old_file = (tmp_path / "out" / "customers.csv").read_bytes()
    old_parts = {p.name: p.read_bytes() for p in (tmp_path / "out" / "parts").iterdir()}

    write(tmp_path, "data/customers.csv", CUSTOMERS + "4,New,11111,1.00,2024-05-05\n")
    bad = make_pipeline(tmp_path, extract("csv", path="data/customers.csv"),
                        {"map": {"columns": {"total": "no_such_column * 2"}}}, *targets)
    out = failed(run_pipeline(bad), code=1)
    assert "no_such_column" in out
    assert (tmp_path / "out" / "customers.csv").read_bytes() == old_file
    assert {p.name: p.read_bytes() for p in (tmp_path / "out" / "parts").iterdir()} == old_parts
    assert staging_left(tmp_path) == []


def test_replace_keeps_the_old_output_when_a_later_input_file_is_corrupt(tmp_path,
                                                                          run_pipeline) -> None:
    # The first file is read (and staged) before the second one fails the run.
    write(tmp_path, "data/a.parquet", pq_bytes(pa.table({"id": list(range(1000))})))
    write(tmp_path, "data/b.parquet", b"PAR1 garbage")
    write(tmp_path, "out/rows.parquet", pq_bytes(pa.table({"id": [-1]})))
    write(tmp_path, "out/parts/part-old.parquet", pq_bytes(pa.table({"id": [-2]})))
    pipeline = make_pipeline(tmp_path, extract("parquet", path="data/*.parquet"),
                             to_parquet(), load("parquet", path="out/parts/"))
    out = failed(run_pipeline(pipeline), code=1)
    assert "b.parquet is not a readable Parquet file" in out
    assert landed(tmp_path) == [{"id": -1}]
    assert [p.name for p in (tmp_path / "out" / "parts").iterdir()] == ["part-old.parquet"]
    assert staging_left(tmp_path) == []


def test_append_adds_a_part_file_per_run(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/customers.csv", CUSTOMERS)
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/customers.csv"),
                             load("jsonl", path="out/log/", mode="append"))
    first = ok(run_pipeline(pipeline))
    second = ok(run_pipeline(pipeline))
    parts = sorted((tmp_path / "out" / "log").iterdir())
    assert len(parts) == 2
    assert {p.name.rsplit("-", 1)[0] for p in parts} == {
        f"part-{first['run_id']}", f"part-{second['run_id']}"}
    rows = [json.loads(line) for p in parts for line in p.read_text().splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3, 1, 2, 3]
    assert rows[1] == {"id": 2, "name": 'O"Brien', "zip": "00501", "balance": None,
                       "joined": "2024-02-29"}


def test_mode_error_refuses_an_existing_target(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/customers.csv", CUSTOMERS)
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/customers.csv"),
                             load("csv", path="out/once.csv", mode="error"))
    ok(run_pipeline(pipeline))
    first = (tmp_path / "out" / "once.csv").read_bytes()
    out = failed(run_pipeline(pipeline), code=1)
    assert f"{tmp_path / 'out' / 'once.csv'} already exists and `mode: error` is set" in out
    assert (tmp_path / "out" / "once.csv").read_bytes() == first
    assert staging_left(tmp_path) == []


def test_append_to_a_single_file_is_a_config_error(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/customers.csv", CUSTOMERS)
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/customers.csv"),
                             load("csv", path="out/all.csv.gz", mode="append"))
    out = failed(run_pipeline(pipeline), code=2)
    assert "`mode: append` needs a folder, but `out/all.csv.gz` names one file" in out
    assert "pipeline.yaml:" in out
    assert not (tmp_path / "out").exists()


def test_compressed_csv_and_jsonl_outputs_by_extension(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/customers.csv", CUSTOMERS)
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/customers.csv"),
        load("csv", path="out/c.csv.gz"), load("csv", path="out/c.csv.zst"),
        load("jsonl", path="out/j.jsonl.gz"), load("jsonl", path="out/j.jsonl.zst"),
        load("csv", path="out/folder/", compression="zstd"))
    ok(run_pipeline(pipeline))
    out = tmp_path / "out"
    assert (out / "c.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
    zstd_csv = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(
        (out / "c.csv.zst").read_bytes())).read()
    assert gzip.decompress((out / "c.csv.gz").read_bytes()) == zstd_csv
    rows = read_csv(out / "c.csv.gz")
    assert [(r["id"], r["name"], r["zip"], r["balance"]) for r in rows] == [
        ("1", "Kim, Ji-ho", "01234", "10.5"), ("2", 'O"Brien', "00501", ""),
        ("3", "Lee", "90210", "-3.25")]
    jsonl = gzip.decompress((out / "j.jsonl.gz").read_bytes()).decode()
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(
        (out / "j.jsonl.zst").read_bytes())).read().decode() == jsonl
    assert [json.loads(line)["zip"] for line in jsonl.splitlines()] == ["01234", "00501",
                                                                          "90210"]
    [part] = (out / "folder").iterdir()
    assert part.name.endswith(".csv.zst")


def test_csv_to_parquet_to_csv_round_trip_keeps_rows_and_values(tmp_path,
                                                               run_pipeline) -> None:
    lines = ["id,name,zip,balance,joined,seen_at,vip"]
    for i in range(1, 501):
        name = f'"Name {i}, ""{i % 7}"""' if i % 5 else ""
        balance = f"{i * 3}.{i % 100:02d}" if i % 11 else ""
        lines.append(f"{i},{name},{i % 1000:05d},{balance},2024-01-{i % 28 + 1:02d},"
                     f"2024-03-01 12:{i % 60:02d}:00,{'true' if i % 2 else 'false'}")
    write(tmp_path, "data/in.csv", "\n".join(lines) + "\n")
    to_pq = make_pipeline(tmp_path, extract("csv", path="data/in.csv", schema={
        "balance": "decimal(12,2)"}), load("parquet", path="mid/customers.parquet"))
    first = ok(run_pipeline(to_pq))
    assert (first["loaded"], first["dead_lettered"]) == (500, 0)
    middle = pq.read_table(tmp_path / "mid" / "customers.parquet")
    assert middle.schema.field("zip").type == pa.string()

    back = make_pipeline(tmp_path, extract("parquet", path="mid/customers.parquet"),
                         load("csv", path="out/customers.csv"))
    ok(run_pipeline(back))
    original = read_csv(tmp_path / "data" / "in.csv")
    again = read_csv(tmp_path / "out" / "customers.csv")
    assert len(again) == len(original) == 500
    for before, after in zip(original, again, strict=True):
        assert after["id"] == before["id"]
        assert after["name"] == before["name"]
        assert after["zip"] == before["zip"]  # leading zeros survive both hops
        assert after["vip"] == before["vip"]
        assert after["joined"] == before["joined"]
        assert (decimal.Decimal(after["balance"]) if after["balance"] else None) == (
            decimal.Decimal(before["balance"]) if before["balance"] else None)
        assert dt.datetime.fromisoformat(after["seen_at"]) == dt.datetime.fromisoformat(
            before["seen_at"])


def test_parts_from_several_workers_merge_into_one_file_without_retyping(tmp_path) -> None:
    # Runners with several workers hand a single-file sink several parts; merging them must
    # not re-read the text and re-guess types (zip 01234 → 1234, "NA" → null).
    ctx = RunContext(pipeline="p", step="load", base_dir=tmp_path, run_id="r1")
    schema = pa.schema([("zip", pa.string()), ("n", pa.int64()), ("note", pa.string()),
                        ("day", pa.date32())])
    batches = [
        pa.RecordBatch.from_pylist([{"zip": "01234", "n": 1, "note": "NA",
                                     "day": dt.date(2024, 1, 1)}], schema=schema),
        pa.RecordBatch.from_pylist([{"zip": "00501", "n": None, "note": "",
                                     "day": None}], schema=schema),
    ]
    for sink, target in ((csv_sink(CsvSinkConfig(path="out/m.csv.gz"), ctx), "m.csv.gz"),
                         (jsonl_sink(JsonlSinkConfig(path="out/m.jsonl"), ctx), "m.jsonl")):
        parts = []
        for i, batch in enumerate(batches):
            part = sink.open_part(str(i))
            part.write(batch)
            result = part.close()
            assert result is not None
            parts.append(result)
        assert sink.commit(parts).rows == 2
        if target.endswith(".gz"):
            text = gzip.decompress((tmp_path / "out" / target).read_bytes()).decode()
            assert text == ('"zip","n","note","day"\n"01234",1,"NA",2024-01-01\n'
                            '"00501",,"",\n')
        else:
            rows = [json.loads(x) for x in (tmp_path / "out" / target).read_text().splitlines()]
            assert rows == [{"zip": "01234", "n": 1, "note": "NA", "day": "2024-01-01"},
                            {"zip": "00501", "n": None, "note": "", "day": None}]
    assert staging_left(tmp_path) == []


# --- zero rows --------------------------------------------------------------------------------

ORDERS_SCHEMA = {"id": "int64", "amount": "decimal(10,2)"}
ORDERS = "id,amount,note\n1,10.50,ok\n2,3.25,fine\n"
ALL_BAD = "id,amount,note\nx,10.50,bad id\ny,1.00,bad id\n"  # every row dead-lettered


def _zero_row_targets() -> list[dict]:
    return [load("parquet", path="out/one.parquet"), load("parquet", path="out/many/"),
            load("csv", path="out/one.csv"), load("jsonl", path="out/lines/"),
            load("avro", path="out/one.avro"),
            load("duckdb", database="out/w.duckdb", table="orders", mode="replace")]


def test_replace_with_zero_rows_leaves_an_empty_target_with_the_schema(tmp_path,
                                                                       run_pipeline) -> None:
    write(tmp_path, "data/orders.csv", ORDERS)
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/orders.csv", schema=ORDERS_SCHEMA),
        *_zero_row_targets())
    ok(run_pipeline(pipeline))
    assert pq.read_table(tmp_path / "out" / "one.parquet").num_rows == 2

    write(tmp_path, "data/orders.csv", ALL_BAD)
    code, report, out = run_pipeline(pipeline)
    assert code == 0, out
    assert report is not None
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (2, 0, 2)
    expected = pa.schema([("id", pa.int64()), ("amount", pa.decimal128(10, 2)),
                          ("note", pa.string())])
    one = pq.read_table(tmp_path / "out" / "one.parquet")
    assert (one.num_rows, one.schema) == (0, expected)
    many = sorted((tmp_path / "out" / "many").iterdir())
    assert len(many) == 1 and many[0].name.startswith(f"part-{report['run_id']}-")
    assert pq.read_table(many[0]).schema == expected
    assert pq.read_table(many[0]).num_rows == 0
    assert read_csv(tmp_path / "out" / "one.csv") == []
    assert (tmp_path / "out" / "one.csv").read_text().strip() == '"id","amount","note"'
    lines = list((tmp_path / "out" / "lines").iterdir())
    assert [p.read_text() for p in lines] == [""]
    with (tmp_path / "out" / "one.avro").open("rb") as fh:
        reader = fastavro.reader(fh)
        assert list(reader) == []
        assert [f["name"] for f in reader.writer_schema["fields"]] == [  # type: ignore[index]
            "id", "amount", "note"]
    con = duckdb.connect(str(tmp_path / "out" / "w.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(0,)]
        assert [r[0] for r in con.execute("DESCRIBE orders").fetchall()] == [
            "id", "amount", "note"]
    finally:
        con.close()
    # The summary says no rows went anywhere, per target.
    assert "load_1 → " in out and "(0 rows)" in out
    assert "(2 rows)" not in out
    assert staging_left(tmp_path) == []


def test_a_header_only_file_creates_empty_targets_that_did_not_exist(tmp_path,
                                                                     run_pipeline) -> None:
    write(tmp_path, "data/orders.csv", "id,amount,note\n")
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/orders.csv", schema=ORDERS_SCHEMA),
        {"map": {"columns": {"twice": "amount * 2"}}},
        load("parquet", path="out/one.parquet"),
        load("duckdb", database="out/w.duckdb", table="orders"))
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"]) == (0, 0)
    assert pq.read_table(tmp_path / "out" / "one.parquet").schema.names == [
        "id", "amount", "note", "twice"]
    con = duckdb.connect(str(tmp_path / "out" / "w.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(0,)]
        assert [r[0] for r in con.execute("DESCRIBE orders").fetchall()] == [
            "id", "amount", "note", "twice"]
    finally:
        con.close()


def test_append_of_zero_rows_adds_nothing(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/orders.csv", ORDERS)
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/orders.csv", schema=ORDERS_SCHEMA),
        load("jsonl", path="out/log/", mode="append"),
        load("duckdb", database="out/w.duckdb", table="orders", mode="append"))
    ok(run_pipeline(pipeline))
    before = sorted(p.name for p in (tmp_path / "out" / "log").iterdir())
    write(tmp_path, "data/orders.csv", "id,amount,note\n")
    report = ok(run_pipeline(pipeline))
    assert report["loaded"] == 0
    assert sorted(p.name for p in (tmp_path / "out" / "log").iterdir()) == before
    con = duckdb.connect(str(tmp_path / "out" / "w.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(2,)]
    finally:
        con.close()


def test_rows_all_dead_lettered_by_a_stage_replace_the_target_with_its_output_columns(
        tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/orders.csv", ORDERS)
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/orders.csv", schema=ORDERS_SCHEMA),
        {"validate": {"rules": [{"type": "range_check", "column": "amount", "min": 100},
                                {"type": "unique", "column": "id"}]}},
        {"map": {"drop": ["note"]}},
        load("parquet", path="out/one.parquet"))
    write(tmp_path, "out/one.parquet", pq_bytes(pa.table({"old": [1]})))  # an earlier run
    code, report, out = run_pipeline(pipeline)
    assert code == 0, out
    assert report is not None
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (2, 0, 2)
    table = pq.read_table(tmp_path / "out" / "one.parquet")
    assert (table.num_rows, table.schema.names) == (0, ["id", "amount"])


def test_an_empty_jsonl_file_without_a_schema_loads_nothing_and_fails_nothing(
        tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/empty.jsonl", "")
    pipeline = make_pipeline(
        tmp_path, extract("jsonl", path="data/empty.jsonl"),
        load("duckdb", database="out/w.duckdb", table="t"),
        load("parquet", path="out/one.parquet"))
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"]) == (0, 0)
    assert not (tmp_path / "out" / "one.parquet").exists()  # no columns to give a file


def test_an_empty_file_beside_files_with_rows_does_not_set_the_column_types(
        tmp_path, run_pipeline) -> None:
    empty = pa.table({"id": pa.array([], pa.int32()), "name": pa.array([], pa.string())})
    big = pa.table({"id": pa.array([2**40], pa.int64()), "name": ["big"]})
    write(tmp_path, "data/a.parquet", pq_bytes(empty))  # read first: sorted by name
    write(tmp_path, "data/b.parquet", pq_bytes(big))
    pipeline = make_pipeline(
        tmp_path, extract("parquet", path="data/*.parquet"),
        load("parquet", path="out/one.parquet"),
        load("duckdb", database="out/w.duckdb", table="t", mode="replace"))
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"]) == (1, 2)
    assert pq.read_table(tmp_path / "out" / "one.parquet").to_pylist() == [
        {"id": 2**40, "name": "big"}]
    con = duckdb.connect(str(tmp_path / "out" / "w.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT id, name FROM t").fetchall() == [(2**40, "big")]
    finally:
        con.close()
