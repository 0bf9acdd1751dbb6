"""Messy real-world files through the file sources (CSV, JSON Lines, Parquet, Avro): each test
writes a small pipeline and its data into a temporary folder, runs it with ``dteg run`` and
checks what landed and what was dead-lettered (with its exact file and line)."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import json
import uuid
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
import zstandard

NAME = "files"


# --- helpers (also used by test_file_sinks.py) ------------------------------------------------


def write(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def make_pipeline(root: Path, *steps: dict[str, Any], name: str = NAME) -> Path:
    path = root / "pipeline.yaml"
    doc = {"pipeline": {"name": name, "steps": list(steps)}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def extract(kind: str, **config: Any) -> dict[str, Any]:
    return {"extract": {"type": kind, "config": config}}


def load(kind: str, **config: Any) -> dict[str, Any]:
    return {"load": {"type": kind, "config": config}}


def to_parquet(path: str = "out/rows.parquet") -> dict[str, Any]:
    return load("parquet", path=path)


def landed(root: Path, rel: str = "out/rows.parquet") -> list[dict[str, Any]]:
    return pq.read_table(root / rel).to_pylist()


def dead_letters(root: Path, name: str = NAME) -> list[dict[str, Any]]:
    files = sorted((root / ".dteg" / "dead_letter" / name).glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text("utf-8").splitlines()
            if line.strip()]


def by_source(dead: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["source"]: d for d in dead}


def ok(result: tuple[int, dict[str, Any] | None, str]) -> dict[str, Any]:
    code, report, out = result
    assert code == 0, out
    # None: several loads (read ≠ loaded by design), nothing to reconcile.
    assert report is not None and report["reconciles"] is not False, out
    return report


def failed(result: tuple[int, dict[str, Any] | None, str], code: int = 1) -> str:
    got, report, out = result
    assert got == code, out
    # --report-json of a failed run: its status and error, no counts (nothing committed).
    assert report is None or (report["status"] == "failed" and "loaded" not in report), report
    assert "Traceback" not in out
    assert out.count("error:") == 1, out
    return out


def pq_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# --- CSV: where the files are ---------------------------------------------------------------


def test_csv_gzip_and_zstd_inputs_are_read_by_extension(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/a.csv.gz", gzip.compress(b"id,name\n1,gz-one\n2,gz-two\n"))
    # Two zstd frames back to back (as pzstd and `cat a.zst b.zst` write them).
    zc = zstandard.ZstdCompressor()
    write(tmp_path, "data/b.csv.zst", zc.compress(b"id,name\n3,zst-one\n") + zc.compress(
        b"4,zst-two\n"))
    write(tmp_path, "data/c.csv", "id,name\n5,plain\n")
    # Sorted first, and without rows: types come from the next file that has some.
    write(tmp_path, "data/0-header-only.csv", "id,name\n")
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/*"), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert report["read"] == 5
    assert sorted((r["id"], r["name"]) for r in landed(tmp_path)) == [
        (1, "gz-one"), (2, "gz-two"), (3, "zst-one"), (4, "zst-two"), (5, "plain")]


def test_csv_recursive_glob_reads_every_level(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/top.csv", "id,region\n1,top\n")
    write(tmp_path, "data/2024/01/jan.csv", "id,region\n2,jan\n3,jan\n")
    write(tmp_path, "data/2024/02/feb.csv", "id,region\n4,feb\n")
    write(tmp_path, "data/2024/02/notes.txt", "not a csv\n")
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/**/*.csv",
                                               filename_column="file"), to_parquet())
    ok(run_pipeline(pipeline))
    rows = sorted(landed(tmp_path), key=lambda r: r["id"])
    assert [(r["id"], r["region"]) for r in rows] == [
        (1, "top"), (2, "jan"), (3, "jan"), (4, "feb")]
    assert rows[3]["file"] == str(tmp_path / "data/2024/02/feb.csv")


def test_csv_glob_reorders_columns_and_refuses_a_different_header(tmp_path,
                                                                   run_pipeline) -> None:
    write(tmp_path, "data/2024-01.csv", "id,name\n1,jan\n")
    write(tmp_path, "data/2024-02.csv", "name,id\nfeb,2\n")  # same columns, other order
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/*.csv"), to_parquet())
    ok(run_pipeline(pipeline))
    assert landed(tmp_path) == [{"id": 1, "name": "jan"}, {"id": 2, "name": "feb"}]

    write(tmp_path, "data/2024-03.csv", "id,name,channel\n3,mar,web\n")  # a column more
    out = failed(run_pipeline(pipeline), code=1)
    assert (f"{tmp_path / 'data' / '2024-03.csv'} does not have the columns of the first file "
            "read (new: ['channel'], missing: -)") in out
    assert landed(tmp_path) == [{"id": 1, "name": "jan"}, {"id": 2, "name": "feb"}]


def test_csv_no_matching_file_is_one_clear_error(tmp_path, run_pipeline) -> None:
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/*.csv"), to_parquet())
    out = failed(run_pipeline(pipeline), code=2)
    assert f"no file matches {tmp_path / 'data' / '*.csv'}" in out
    assert "allow_empty: true" in out
    assert "pipeline.yaml:4" in out  # the extract step's line


def test_csv_no_matching_file_with_allow_empty_succeeds(tmp_path, run_pipeline) -> None:
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/*.csv", allow_empty=True),
                             to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (0, 0, 0)
    assert not (tmp_path / "out" / "rows.parquet").exists()


# --- CSV: the shape of the text -------------------------------------------------------------


def test_csv_excel_export_bom_crlf_quotes_blank_lines_and_ragged_rows(tmp_path,
                                                                      run_pipeline) -> None:
    lines = [
        "\ufeffid,name,city",            # 1: header with a UTF-8 BOM
        '1,"Kim, Ji-ho",Seoul',           # 2: comma inside quotes
        "",                                # 3: blank
        '2,"She said ""hi""",Busan',      # 4: escaped quotes
        "3,Lee",                           # 5: too few fields
        "",                                # 6: blank
        "",                                # 7: blank
        "4,Park,Incheon,extra",            # 8: too many fields
        "5,Choi,",                         # 9: empty last field
        '6,"",Daegu',                      # 10: quoted empty value
    ]
    path = write(tmp_path, "data/export.csv", "\r\n".join(lines) + "\r\n")
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/export.csv"), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (6, 4, 2)
    rows = landed(tmp_path)
    assert list(rows[0]) == ["id", "name", "city"]  # no BOM glued to `id`
    assert rows == [
        {"id": 1, "name": "Kim, Ji-ho", "city": "Seoul"},
        {"id": 2, "name": 'She said "hi"', "city": "Busan"},
        {"id": 5, "name": "Choi", "city": None},
        {"id": 6, "name": "", "city": "Daegu"},
    ]
    dead = by_source(dead_letters(tmp_path))
    assert set(dead) == {f"{path}:5", f"{path}:8"}
    assert dead[f"{path}:5"]["reason"] == "malformed CSV row: expected 3 fields, found 2"
    assert dead[f"{path}:5"]["record"] == "3,Lee"
    assert dead[f"{path}:8"]["reason"] == "malformed CSV row: expected 3 fields, found 4"


def test_csv_without_header_uses_columns_and_drops_a_bom(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/raw.csv", b"\xef\xbb\xbf10,alpha\r\n20,beta\r\n")
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/raw.csv", header=False, columns=["id", "label"]),
        to_parquet())
    ok(run_pipeline(pipeline))
    assert landed(tmp_path) == [{"id": 10, "label": "alpha"}, {"id": 20, "label": "beta"}]


def test_csv_semicolons_in_latin1(tmp_path, run_pipeline) -> None:
    text = "id;name;price\n1;Café Müller;3,50\n2;Façade;12\n"
    write(tmp_path, "data/eu.csv", text.encode("latin-1"))
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/eu.csv", delimiter=";", encoding="latin-1"),
        to_parquet())
    ok(run_pipeline(pipeline))
    # "3,50" is not a number in dteg's eyes, so the column stays text (nothing is lost).
    assert landed(tmp_path) == [{"id": 1, "name": "Café Müller", "price": "3,50"},
                                {"id": 2, "name": "Façade", "price": "12"}]


def test_csv_tabs_in_cp949(tmp_path, run_pipeline) -> None:
    text = "번호\t이름\t메모\n1\t김철수\t서울, 강남\n2\t박영희\t\"탭\t포함\"\n"
    write(tmp_path, "data/kr.tsv", text.encode("cp949"))
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/kr.tsv", delimiter="\t", encoding="cp949"),
        to_parquet())
    ok(run_pipeline(pipeline))
    assert landed(tmp_path) == [{"번호": 1, "이름": "김철수", "메모": "서울, 강남"},
                                {"번호": 2, "이름": "박영희", "메모": "탭\t포함"}]


@pytest.mark.parametrize("declared", [True, False], ids=["multiline", "by-default"])
def test_csv_multiline_values_keep_their_line_breaks_and_lines(tmp_path, run_pipeline,
                                                               declared: bool) -> None:
    # Without `multiline: true` too: quoted line breaks are found and kept (the fast path
    # falls back to the careful one for those blocks).
    text = (
        "id,comment,score\n"             # 1
        '1,"first line\nsecond line",10\n'  # 2-3
        "\n"                              # 4
        '2,"a ""quoted"", b",oops\n'      # 5: score is not an int
        '3,"x\r\n\r\ny",30\n'             # 6-8: CRLF and a blank line inside quotes
        "4,too,many,fields\n"             # 9
        "5,plain,50"                      # 10: no final newline
    )
    path = write(tmp_path, "data/notes.csv", text)
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/notes.csv", schema={"score": "int"},
                          **({"multiline": True} if declared else {})),
        to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (5, 3, 2)
    assert landed(tmp_path) == [
        {"id": 1, "comment": "first line\nsecond line", "score": 10},
        {"id": 3, "comment": "x\r\n\r\ny", "score": 30},
        {"id": 5, "comment": "plain", "score": 50},
    ]
    dead = by_source(dead_letters(tmp_path))
    assert set(dead) == {f"{path}:5", f"{path}:9"}
    assert dead[f"{path}:5"]["column"] == "score"
    assert dead[f"{path}:5"]["reason"] == "column `score`: 'oops' is not a valid int64"
    assert dead[f"{path}:9"]["reason"] == "malformed CSV row: expected 3 fields, found 4"


def test_csv_quoted_line_break_across_a_block_boundary_stays_one_record(
        tmp_path, run_pipeline, monkeypatch) -> None:
    from dteg.connectors.csv import source

    monkeypatch.setattr(source, "BLOCK_BYTES", 64)  # cut blocks inside the quoted values
    rows = "".join(f'{i},"note {i}\nline two of {i}\nthree",{i}\n' for i in range(1, 21))
    path = write(tmp_path, "data/notes.csv", "id,note,n\n" + rows + "21,plain,x\n")
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/notes.csv",
                                               schema={"n": "int"}), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (21, 20, 1)
    assert landed(tmp_path)[19] == {"id": 20, "note": "note 20\nline two of 20\nthree",
                                    "n": 20}
    [dead] = dead_letters(tmp_path)
    assert dead["source"] == f"{path}:62"  # the line the bad record starts on


def test_csv_unclosed_quote_does_not_swallow_the_next_lines(tmp_path, run_pipeline) -> None:
    path = write(tmp_path, "data/q.csv",
                 'id,title,qty\n1,"12"" monitor,2\n2,desk,1\n3,"lamp, tall",4\n4,x"y,5\n')
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/q.csv"), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (4, 3, 1)
    assert landed(tmp_path) == [{"id": 2, "title": "desk", "qty": 1},
                                {"id": 3, "title": "lamp, tall", "qty": 4},
                                {"id": 4, "title": 'x"y', "qty": 5}]
    [dead] = dead_letters(tmp_path)
    assert dead["source"] == f"{path}:2"
    assert "quoted value is not closed" in dead["reason"]
    assert dead["record"] == '1,"12"" monitor,2'


# --- CSV: types and nulls -------------------------------------------------------------------


def test_csv_declared_schema_dead_letters_the_exact_line_and_column(tmp_path,
                                                                    run_pipeline) -> None:
    path = write(tmp_path, "data/orders.csv", (
        "order_id,amount,ordered_on,note\n"
        "1,10.50,2024-01-31,ok\n"
        "\n"
        "2,ten,2024-02-01,words for a number\n"
        "3,7.25,2024-02-30,no such day\n"
        "4,,2024-03-01,empty amount\n"
    ))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/orders.csv", schema={
        "order_id": "int", "amount": "decimal(10,2)", "ordered_on": "date"}), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["loaded"], report["dead_lettered"]) == (2, 2)
    assert landed(tmp_path) == [
        {"order_id": 1, "amount": decimal.Decimal("10.50"), "ordered_on": dt.date(2024, 1, 31),
         "note": "ok"},
        {"order_id": 4, "amount": None, "ordered_on": dt.date(2024, 3, 1),
         "note": "empty amount"},
    ]
    dead = by_source(dead_letters(tmp_path))
    assert set(dead) == {f"{path}:4", f"{path}:5"}
    assert dead[f"{path}:4"]["column"] == "amount"
    assert dead[f"{path}:4"]["reason"] == "column `amount`: 'ten' is not a valid decimal128(10, 2)"
    assert json.loads(dead[f"{path}:4"]["record"])["order_id"] == "2"
    assert dead[f"{path}:5"]["column"] == "ordered_on"
    assert "'2024-02-30' is not a valid date32" in dead[f"{path}:5"]["reason"]


def test_csv_inferred_types_keep_zip_codes_as_text(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/people.csv", (
        "id,zip,score,joined,last_seen,active,count,comment\n"
        "1,01234,1.5,2024-01-02,2024-01-02 10:00:00,true,7,NA\n"
        "2,10001,NA,2024-02-29,2024-02-29T23:59:59,false,NULL,\n"
        "3,00501,-2e3,,,TRUE,,NULL\n"
    ))
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/people.csv"), to_parquet())
    ok(run_pipeline(pipeline))
    schema = pq.read_schema(tmp_path / "out" / "rows.parquet")
    assert {f.name: str(f.type) for f in schema} == {
        "id": "int64", "zip": "string", "score": "double", "joined": "date32[day]",
        "last_seen": "timestamp[us]", "active": "bool", "count": "int64", "comment": "string"}
    assert landed(tmp_path) == [
        {"id": 1, "zip": "01234", "score": 1.5, "joined": dt.date(2024, 1, 2),
         "last_seen": dt.datetime(2024, 1, 2, 10), "active": True, "count": 7,
         "comment": "NA"},  # text columns keep "NA" and "NULL" as written
        {"id": 2, "zip": "10001", "score": None, "joined": dt.date(2024, 2, 29),
         "last_seen": dt.datetime(2024, 2, 29, 23, 59, 59), "active": False, "count": None,
         "comment": None},  # an empty field is null in every column
        {"id": 3, "zip": "00501", "score": -2000.0, "joined": None, "last_seen": None,
         "active": True, "count": None, "comment": "NULL"},
    ]


def test_csv_empty_file_is_a_clear_error(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/empty.csv", "")
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/empty.csv"), to_parquet())
    out = failed(run_pipeline(pipeline), code=1)
    assert "empty.csv is empty (no header line)" in out
    assert "header: false" in out


def test_csv_header_only_replaces_the_old_output_with_an_empty_file_of_its_columns(
        tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/header.csv", "id,name\r\n")
    write(tmp_path, "out/rows.parquet", pq_bytes(pa.table({"id": [99]})))  # an earlier run
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/header.csv", schema={"id": "int64"}), to_parquet())
    code, report, out = run_pipeline(pipeline)
    assert code == 0, out
    assert report is not None
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (0, 0, 0)
    # Zero rows this run: the last run's rows must not pass for this run's, and readers
    # still find the columns.
    table = pq.read_table(tmp_path / "out" / "rows.parquet")
    assert table.num_rows == 0
    assert table.schema.names == ["id", "name"]
    assert table.schema.field("id").type == pa.int64()
    assert dead_letters(tmp_path) == []
    assert "0 rows" in out


def test_csv_duplicate_column_names_are_a_clear_error(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/dup.csv", "id,amount,Amount,amount\n1,2,3,4\n")
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/dup.csv"), to_parquet())
    out = failed(run_pipeline(pipeline), code=1)
    assert "dup.csv has two columns named `amount` (positions 2 and 4)" in out
    assert "set `columns:`" in out


def test_csv_columns_renames_duplicate_headers(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/dup.csv", "id,amount,amount\n1,2,3\n")
    pipeline = make_pipeline(
        tmp_path, extract("csv", path="data/dup.csv", columns=["id", "net", "gross"]),
        to_parquet())
    ok(run_pipeline(pipeline))
    assert landed(tmp_path) == [{"id": 1, "net": 2, "gross": 3}]


def test_csv_larger_than_one_block_keeps_exact_line_numbers(tmp_path, run_pipeline) -> None:
    # ~21 MB: the reader cuts 8 MB blocks at line ends, so rows cross two block boundaries.
    n = 700_000
    lines = ["id,name,amount"] + [f"{i},customer-{i:07d},{i}.25" for i in range(1, n + 1)]
    lines[100_000] = "100000,short"                    # line 100001, in the first block
    lines[450_000] = "450000,customer,not-a-number"    # line 450001, after the first block
    lines[650_000] = ""                                 # line 650001, blank
    lines[690_000] = "690000,a,b,c"                     # line 690001, in the last block
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 2 * (8 << 20)
    path = write(tmp_path, "data/big.csv", data)
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/big.csv",
                                               schema={"amount": "float"}), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert report["read"] == n - 1
    assert (report["loaded"], report["dead_lettered"]) == (n - 4, 3)
    table = pq.read_table(tmp_path / "out" / "rows.parquet", columns=["id", "amount"])
    ids = table.column("id").to_pylist()
    assert ids[:3] == [1, 2, 3] and ids[-1] == n
    assert 450_000 not in ids and 100_000 not in ids and 650_000 not in ids
    assert sum(table.column("amount").to_pylist()) == sum(
        i + 0.25 for i in range(1, n + 1) if i not in (100_000, 450_000, 650_000, 690_000))
    dead = by_source(dead_letters(tmp_path))
    assert set(dead) == {f"{path}:100001", f"{path}:450001", f"{path}:690001"}
    assert dead[f"{path}:450001"]["column"] == "amount"
    assert dead[f"{path}:690001"]["record"] == "690000,a,b,c"


def test_csv_invalid_utf8_dead_letters_only_that_line(tmp_path, run_pipeline) -> None:
    path = write(tmp_path, "data/mixed.csv", b"id,name\n1,ok\n2,caf\xe9\n\n3,fine\n"
                 b"4,\xff\xfe broken\n5,\xec\x84\x9c\xec\x9a\xb8\n")
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/mixed.csv"), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["loaded"], report["dead_lettered"]) == (3, 2)
    assert landed(tmp_path) == [{"id": 1, "name": "ok"}, {"id": 3, "name": "fine"},
                                {"id": 5, "name": "서울"}]
    dead = by_source(dead_letters(tmp_path))
    assert set(dead) == {f"{path}:3", f"{path}:6"}
    assert dead[f"{path}:3"]["reason"] == "not valid utf-8 text (byte 5)"
    assert dead[f"{path}:3"]["record"] == "2,caf\ufffd"


def test_csv_truncated_gzip_is_a_clear_error(tmp_path, run_pipeline) -> None:
    body = "id,name\n" + "".join(f"{i},row-{i}\n" for i in range(5000))
    write(tmp_path, "data/cut.csv.gz", gzip.compress(body.encode())[:-40])
    pipeline = make_pipeline(tmp_path, extract("csv", path="data/cut.csv.gz"), to_parquet())
    out = failed(run_pipeline(pipeline), code=1)
    assert "cut.csv.gz" in out and "truncated or corrupt gzip file" in out
    assert not (tmp_path / "out" / "rows.parquet").exists()


# --- JSON Lines -----------------------------------------------------------------------------


def test_jsonl_gzip_nested_nulls_wrong_types_blank_and_unterminated_lines(tmp_path,
                                                                         run_pipeline) -> None:
    lines = [
        '{"id": 1, "user": "ann", "props": {"plan": "pro", "seats": [1, 2]}, "amount": 9.5,'
        ' "at": "2024-01-02T03:04:05"}',                                       # 1
        "",                                                                    # 2
        '{"id": 2, "user": null, "props": null, "amount": 3, "at": null}',      # 3
        '{"id": "three", "user": "cy", "amount": 1.0}',                        # 4
        "   ",                                                                 # 5
        '{"id": 4.7, "user": "dee"}',                                          # 6: not an int
        '{"id": 5, "user": 55}',                                               # 7: not a string
        '{"id": 6, "user": "eve", "props": "plain text", "at": "yesterday"}',  # 8
        '{"id": 7, "user": "fay", "props": [true, null], "amount": -1}',       # 9, no newline
    ]
    path = write(tmp_path, "data/events.jsonl.gz", gzip.compress("\n".join(lines).encode()))
    pipeline = make_pipeline(tmp_path, extract("jsonl", path="data/events.jsonl.gz", schema={
        "id": "int", "user": "string", "props": "json", "amount": "float",
        "at": "timestamp"}), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (7, 3, 4)
    assert landed(tmp_path) == [
        {"id": 1, "user": "ann", "props": '{"plan": "pro", "seats": [1, 2]}', "amount": 9.5,
         "at": dt.datetime(2024, 1, 2, 3, 4, 5)},
        {"id": 2, "user": None, "props": None, "amount": 3.0, "at": None},
        {"id": 7, "user": "fay", "props": "[true, null]", "amount": -1.0, "at": None},
    ]
    dead = by_source(dead_letters(tmp_path))
    assert set(dead) == {f"{path}:{n}" for n in (4, 6, 7, 8)}
    assert dead[f"{path}:4"]["reason"] == "column `id`: 'three' is not a valid int64"
    assert dead[f"{path}:6"]["reason"] == "column `id`: 4.7 is not a valid int64"
    assert dead[f"{path}:7"]["reason"] == "column `user`: 55 is not a valid string"
    assert dead[f"{path}:8"]["column"] == "at"
    assert {d["column"] for d in dead.values()} == {"id", "user", "at"}


def test_jsonl_unknown_fields_bad_json_and_non_objects_are_dead_lettered(tmp_path,
                                                                         run_pipeline) -> None:
    path = write(tmp_path, "data/e.jsonl", (
        '\ufeff{"id": 1, "meta": {"a": 1}}\n'        # 1: BOM; nested → JSON text
        '{"id": 2, "meta": {"b": [2]}}\n'            # 2: other keys than the sample's
        '{"id": 3, "meta": null, "surprise": 1}\n'   # 3: a field the schema does not know
        "[1, 2]\n"                                   # 4: not an object
        '{"id": 4, "meta": \n'                      # 5: broken JSON
        '{"id": 5}\n'                                # 6: missing field → null
    ))
    pipeline = make_pipeline(tmp_path, extract("jsonl", path="data/e.jsonl", sample_rows=2),
                             to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["loaded"], report["dead_lettered"]) == (3, 3)
    assert landed(tmp_path) == [{"id": 1, "meta": '{"a": 1}'}, {"id": 2, "meta": '{"b": [2]}'},
                                {"id": 5, "meta": None}]
    dead = by_source(dead_letters(tmp_path))
    assert dead[f"{path}:3"]["reason"] == (
        "field(s) ['surprise'] are not in the schema (declare them under `schema:` to keep "
        "them)")
    assert dead[f"{path}:4"]["reason"] == "expected a JSON object, found list"
    assert dead[f"{path}:5"]["reason"].startswith("invalid JSON: ")
    assert dead[f"{path}:5"]["record"] == '{"id": 4, "meta":'


# --- Parquet --------------------------------------------------------------------------------


def test_parquet_folder_glob_projection_and_declared_cast(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/orders/part-1.parquet", pq_bytes(pa.table({
        "id": [1, 2], "amount": [1.5, 2.25], "code": ["10", "x"], "secret": ["a", "b"]})))
    write(tmp_path, "data/orders/part-2.parquet", pq_bytes(pa.table({
        "id": [3], "amount": [3.0], "code": ["30"], "secret": ["c"]})))
    pipeline = make_pipeline(tmp_path, extract(
        "parquet", path="data/orders/*.parquet", columns=["id", "amount", "code"],
        schema={"amount": "decimal(10,2)", "code": "int"}), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (3, 2, 1)
    table = pq.read_table(tmp_path / "out" / "rows.parquet")
    assert table.schema.names == ["id", "amount", "code"]
    assert str(table.schema.field("amount").type) == "decimal128(10, 2)"
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "amount": decimal.Decimal("1.50"), "code": 10},
        {"id": 3, "amount": decimal.Decimal("3.00"), "code": 30}]
    [dead] = dead_letters(tmp_path)
    assert dead["source"] == f"{tmp_path / 'data/orders/part-1.parquet'} (row 2)"
    assert dead["reason"] == "column `code`: 'x' is not a valid int64"


def test_parquet_corrupt_file_is_a_clear_error(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/good.parquet", pq_bytes(pa.table({"id": [1]})))
    write(tmp_path, "data/bad.parquet", b"PAR1 this is not really parquet")
    pipeline = make_pipeline(tmp_path, extract("parquet", path="data/*.parquet"), to_parquet())
    out = failed(run_pipeline(pipeline), code=1)
    assert "bad.parquet is not a readable Parquet file" in out


def test_parquet_folder_without_glob_suggests_one(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/orders/part-1.parquet", pq_bytes(pa.table({"id": [1]})))
    pipeline = make_pipeline(tmp_path, extract("parquet", path="data/orders"), to_parquet())
    out = failed(run_pipeline(pipeline), code=2)
    assert "orders is a folder" in out
    assert str(tmp_path / "data" / "orders" / "*.parquet") in out


# --- Avro -----------------------------------------------------------------------------------

AVRO_SCHEMA = {"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12,
                                "scale": 2}},
    {"name": "big", "type": {"type": "fixed", "name": "Big", "size": 10,
                             "logicalType": "decimal", "precision": 20, "scale": 4}},
    {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "note", "type": ["null", "string"], "default": None},
]}
UTC = dt.timezone.utc
AVRO_RECORDS = [
    {"id": 1, "day": dt.date(2024, 2, 29), "at": dt.datetime(2024, 1, 2, 3, 4, 5, 123456, UTC),
     "at_ms": dt.datetime(2024, 1, 2, 3, 4, 5, 123000, UTC),
     "local": dt.datetime(2024, 5, 6, 7, 8, 9, 10), "amount": decimal.Decimal("12345.67"),
     "big": decimal.Decimal("-1234567890.1234"),
     "ref": uuid.UUID("12345678-1234-5678-1234-567812345678"), "status": "PAID",
     "tags": ["a", "b"], "note": None},
    {"id": 2, "day": dt.date(1969, 12, 31), "at": dt.datetime(1970, 1, 1, tzinfo=UTC),
     "at_ms": dt.datetime(1999, 12, 31, 23, 59, 59, 999000, UTC),
     "local": dt.datetime(2000, 1, 1), "amount": decimal.Decimal("-0.05"),
     "big": decimal.Decimal("0.0001"), "ref": uuid.UUID(int=0), "status": "NEW", "tags": [],
     "note": "second"},
]


def avro_bytes(schema: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    fastavro.writer(sink, fastavro.parse_schema(schema), records)
    return sink.getvalue()


def test_avro_logical_types_survive_avro_to_parquet(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/orders.avro", avro_bytes(AVRO_SCHEMA, AVRO_RECORDS))
    pipeline = make_pipeline(tmp_path, extract("avro", path="data/orders.avro"), to_parquet())
    report = ok(run_pipeline(pipeline))
    assert report["loaded"] == 2
    table = pq.read_table(tmp_path / "out" / "rows.parquet")
    types = {f.name: str(f.type) for f in table.schema}
    assert types["day"] == "date32[day]"
    assert types["at"] == "timestamp[us, tz=UTC]"
    assert types["local"] == "timestamp[us]"
    assert types["amount"] == "decimal128(12, 2)"
    assert types["big"] == "decimal128(20, 4)"
    expected = [dict(r, ref=str(r["ref"])) for r in AVRO_RECORDS]
    assert table.to_pylist() == expected


def test_avro_to_avro_keeps_every_value(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/orders.avro", avro_bytes(AVRO_SCHEMA, AVRO_RECORDS))
    pipeline = make_pipeline(tmp_path, extract("avro", path="data/orders.avro"),
                             load("avro", path="out/orders.avro"))
    ok(run_pipeline(pipeline))
    with open(tmp_path / "out" / "orders.avro", "rb") as fh:
        records = list(fastavro.reader(fh))
    assert records == [dict(r, ref=str(r["ref"])) for r in AVRO_RECORDS]


def test_avro_corrupt_and_truncated_files_are_clear_errors(tmp_path, run_pipeline) -> None:
    write(tmp_path, "data/junk.avro", b"this was never avro\n" * 10)
    pipeline = make_pipeline(tmp_path, extract("avro", path="data/junk.avro"), to_parquet())
    out = failed(run_pipeline(pipeline), code=1)
    assert "junk.avro is not a readable Avro file" in out

    many = [dict(AVRO_RECORDS[0], id=i) for i in range(2000)]
    write(tmp_path, "data/cut.avro", avro_bytes(AVRO_SCHEMA, many)[:-100])
    pipeline = make_pipeline(tmp_path, extract("avro", path="data/cut.avro"), to_parquet())
    out = failed(run_pipeline(pipeline), code=1)
    assert "cut.avro is truncated or corrupt after record" in out
    assert not (tmp_path / "out" / "rows.parquet").exists()
