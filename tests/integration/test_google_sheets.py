"""The Google Sheets source and sink against a local stand-in of Google's token endpoint and
the Sheets v4 API (``fake_sheets``: a real HTTP server on 127.0.0.1 that verifies the
service account's signed JWT), through the real google-auth code path. Real Google was not
reached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.integration.fake_sheets import FakeSheets, fake_sheets
from tests.integration.test_file_connectors import (
    dead_letters,
    extract,
    failed,
    load,
    make_pipeline,
    ok,
    write,
)

__all__ = ["fake_sheets"]  # fixture

ORDERS = [["id", "customer", "amount", "paid", "ordered_on"],
          [1, "ada", 12.5, True, "2024-01-02"],
          [2, "bob", 3, False, "2024-01-03"],
          [3, "cy", "twelve", True, "2024-01-04"],
          [],
          [4, "dee", 7.25, False, "not a date"],
          [5, "eve", 1, True, "2024-01-06"]]
SCHEMA = {"id": "int64", "amount": "float64", "paid": "bool", "ordered_on": "date"}


def connection(server: FakeSheets, key: Path, **extra: Any) -> dict[str, Any]:
    return {"spreadsheet_id": "book1", "api_endpoint": server.endpoint,
            "credentials_file": str(key), **extra}


def test_source_types_rows_by_schema_and_dead_letters_bad_cells(tmp_path, run_pipeline,
                                                                fake_sheets) -> None:
    key = fake_sheets.service_account_key(tmp_path)
    fake_sheets.create("book1", {"Orders": ORDERS, "Other": [["x"], [1]]})
    report = ok(run_pipeline(make_pipeline(
        tmp_path, extract("google_sheets", **connection(fake_sheets, key, sheet="Orders",
                                                       schema=SCHEMA)),
        load("parquet", path="out/orders.parquet"))))
    rows = pq.read_table(tmp_path / "out/orders.parquet").to_pylist()
    assert [r["id"] for r in rows] == [1, 2, 5]
    assert rows[0] == {"id": 1, "customer": "ada", "amount": 12.5, "paid": True,
                       "ordered_on": __import__("datetime").date(2024, 1, 2)}
    dead = {d["source"]: d for d in dead_letters(tmp_path)}
    assert set(dead) == {"Orders!C4", "Orders!E6"}  # the cell of each bad value
    assert "'twelve' is not a valid double" in dead["Orders!C4"]["reason"]
    assert report["read"] == 5 and report["loaded"] == 3 and report["dead_lettered"] == 2
    assert fake_sheets.token_requests == 1  # one token for the run, reused


def test_source_reads_in_row_batches_and_survives_429(tmp_path, run_pipeline,
                                                      fake_sheets) -> None:
    key = fake_sheets.service_account_key(tmp_path)
    rows = [["n", "word"]] + [[i, f"w{i}"] for i in range(1, 2_501)]
    fake_sheets.create("book1", {"Big": rows})
    fake_sheets.throttle(2)  # quota exceeded twice: retried after Retry-After
    ok(run_pipeline(make_pipeline(
        tmp_path, extract("sheets", **connection(fake_sheets, key, sheet="Big", batch_rows=1000,
                                                schema={"n": "int64"})),
        load("parquet", path="out/big.parquet"))))
    got = pq.read_table(tmp_path / "out/big.parquet").column("n").to_pylist()
    assert got == list(range(1, 2_501))
    reads = [c for c in fake_sheets.calls if c.startswith("GET  'Big'!A")]
    assert reads == ["GET  'Big'!A2:B1001", "GET  'Big'!A1002:B2001", "GET  'Big'!A2002:B3001"]


def test_sink_replace_swaps_the_sheet_and_append_adds_rows(tmp_path, run_pipeline,
                                                           fake_sheets) -> None:
    key = fake_sheets.service_account_key(tmp_path)
    fake_sheets.create("book1", {"Out": [["old"], ["stale row"]], "Keep": [["k"], ["v"]]})
    write(tmp_path, "data/in.csv", "id,name,score\n" + "".join(
        f"{i},n{i},{i / 2}\n" for i in range(1, 4_502)))
    target = connection(fake_sheets, key, sheet="Out", mode="replace", batch_rows=2000)
    ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/in.csv"),
                                  load("google_sheets", **target))))
    values = fake_sheets.values("book1", "Out")
    assert values[0] == ["id", "name", "score"] and len(values) == 4_502
    assert values[1] == ["1", "n1", "0.5"] and values[-1] == ["4501", "n4501", "2250.5"]
    assert fake_sheets.titles("book1") == ["Keep", "Out"]  # no staging sheet left
    writes = [c for c in fake_sheets.calls if c.startswith("PUT")]
    assert len(writes) == 1 + 3  # header + rows in requests of at most 2,000

    write(tmp_path, "data/in.csv", "id,name,score\n7,x,1.5\n8,y,2\n")
    ok(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/in.csv"),
                                  load("google_sheets", **{**target, "mode": "append"}))))
    values = fake_sheets.values("book1", "Out")
    assert len(values) == 4_504 and values[-2:] == [["7", "x", "1.5"], ["8", "y", "2"]]

    # Different columns are refused before anything is written.
    write(tmp_path, "data/other.csv", "a,b\n1,2\n")
    out = failed(run_pipeline(make_pipeline(tmp_path, extract("csv", path="data/other.csv"),
                                            load("google_sheets", **{**target,
                                                                     "mode": "append"}))))
    assert "has the columns ['id', 'name', 'score'], but the rows have ['a', 'b']" in out
    assert len(fake_sheets.values("book1", "Out")) == 4_504


def test_a_server_failing_mid_replace_leaves_the_old_sheet(tmp_path, run_pipeline,
                                                           fake_sheets) -> None:
    key = fake_sheets.service_account_key(tmp_path)
    before = [["id"], ["1"], ["2"]]
    fake_sheets.create("book1", {"Out": before})
    write(tmp_path, "data/in.csv", "id\n" + "".join(f"{i}\n" for i in range(5000)))
    fake_sheets.fail_after(4)  # token aside: get, addSheet, header, one chunk; then 500s
    out = failed(run_pipeline(make_pipeline(
        tmp_path, extract("csv", path="data/in.csv"), load("google_sheets", **connection(
            fake_sheets, key, sheet="Out", mode="replace", batch_rows=1000,
            retry={"attempts": 2, "initial_seconds": 0.1})))))
    assert "failed after 2 tries" in out and "HTTP 500" in out
    fake_sheets.fail_after(None)
    assert fake_sheets.values("book1", "Out") == before


def test_refused_credentials_and_wrong_names_are_clear_errors(tmp_path, run_pipeline,
                                                              fake_sheets) -> None:
    fake_sheets.create("book1", {"Orders": ORDERS})
    stranger = fake_sheets.service_account_key(tmp_path, "stranger@x.iam.gserviceaccount.com",
                                               trusted=False)
    sink = make_pipeline(tmp_path, extract("google_sheets", **connection(
        fake_sheets, stranger, sheet="Orders")), load("parquet", path="out/x.parquet"))
    out = failed(run_pipeline(sink))
    assert "the token endpoint refused the service account's credentials" in out
    assert "Invalid JWT Signature" in out and "PRIVATE KEY" not in out

    key = fake_sheets.service_account_key(tmp_path)
    out = failed(run_pipeline(make_pipeline(tmp_path, extract("google_sheets", **connection(
        fake_sheets, key, sheet="Nope")), load("parquet", path="out/x.parquet"))))
    assert "spreadsheet book1 has no sheet `Nope`" in out and "Orders" in out
    out = failed(run_pipeline(make_pipeline(tmp_path, extract("google_sheets", **{
        **connection(fake_sheets, key, sheet="Orders"), "spreadsheet_id": "missing"}),
        load("parquet", path="out/x.parquet"))))
    assert "spreadsheet missing was not found" in out
    out = failed(run_pipeline(make_pipeline(tmp_path, extract("google_sheets", **connection(
        fake_sheets, key, sheet="Orders", schema={"nope": "int64"})),
        load("parquet", path="out/x.parquet"))))
    assert "`schema:` declares ['nope']" in out


def test_zero_rows_replace_leaves_an_empty_sheet(tmp_path, run_pipeline, fake_sheets) -> None:
    key = fake_sheets.service_account_key(tmp_path)
    fake_sheets.create("book1", {"Src": [["id", "v"]], "Out": [["old"], ["x"]]})
    report = ok(run_pipeline(make_pipeline(
        tmp_path, extract("google_sheets", **connection(fake_sheets, key, sheet="Src")),
        load("google_sheets", **connection(fake_sheets, key, sheet="Out", mode="replace")))))
    assert report["loaded"] == 0
    assert fake_sheets.values("book1", "Out") == [["id", "v"]]


def test_example_pipeline_sheets_orders(workdir, run_pipeline, fake_sheets,
                                        monkeypatch) -> None:
    """pipelines/sheets_orders.yaml against the stand-in, through its ${env:…} values."""
    key = fake_sheets.service_account_key(workdir)
    fake_sheets.create("orders-book", {"Orders": [
        ["order_id", "customer", "amount", "status", "ordered_on"],
        [1, "ada", 10.5, "paid", "2024-01-02"],
        [2, "bob", 4, "refunded", "2024-01-02"],
        [3, "cy", "n/a!", "paid", "2024-01-03"],
        [4, "dee", 7, "paid", "2024-01-04"]], "Paid": [["stale"]]})
    monkeypatch.setenv("DTEG_SHEETS_SPREADSHEET_ID", "orders-book")
    monkeypatch.setenv("DTEG_SHEETS_KEY_FILE", str(key))
    monkeypatch.setenv("DTEG_SHEETS_ENDPOINT", fake_sheets.endpoint)
    report = ok(run_pipeline(workdir / "sheets_orders.yaml"))
    assert report["read"] == 4 and report["dead_lettered"] == 1 and report["loaded"] == 2
    assert fake_sheets.values("orders-book", "Paid") == [
        ["order_id", "customer", "amount", "status", "ordered_on"],
        ["1", "ada", "10.5", "paid", "2024-01-02"], ["4", "dee", "7", "paid", "2024-01-04"]]
    dead = dead_letters(workdir, "sheets_orders")
    assert [d["source"] for d in dead] == ["Orders!C4"]


def test_google_sheets_passes_the_connector_kit(tmp_path, fake_sheets) -> None:
    """dteg.testing's round trip: sink parts → commit (replace, then append) → source."""
    import pyarrow as pa

    from dteg.testing import check_sink, check_source

    key = fake_sheets.service_account_key(tmp_path)
    fake_sheets.create("book1", {"Sheet1": []})
    batch = pa.record_batch({"id": pa.array([1, 2, 3], pa.int64()),
                             "email": pa.array(["a@x.io", None, "bad"], pa.string())})
    config = connection(fake_sheets, key)
    assert check_sink("google_sheets", {**config, "mode": "replace"}, [batch, batch],
                      base_dir=tmp_path).rows == 6
    assert check_sink("sheets", {**config, "mode": "append"}, [batch],
                      base_dir=tmp_path).rows == 3
    table, dead = check_source("google_sheets", {**config, "schema": {"id": "int64"}},
                               base_dir=tmp_path)
    assert (table.num_rows, dead.num_rows) == (9, 0)
    assert sorted(table.column("id").to_pylist()) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert table.column("email").to_pylist().count(None) == 3  # an empty cell is null
