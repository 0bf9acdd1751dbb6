"""PostgreSQL source and sink against a real server (scripts/services/postgres)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.integration.conftest import REPO
from tests.integration.databases import rows

pytestmark = pytest.mark.integration
DTEG = [sys.executable, "-m", "dteg.cli"]


def cli(capsys, *args: str) -> str:
    """Run a dteg command in-process; returns its stdout (fails on a non-zero exit)."""
    from dteg.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr()
    return capsys.readouterr().out


def _orders(pg, n: int = 1000) -> None:
    pg.execute("CREATE TABLE shop_orders (id bigint PRIMARY KEY, customer text, "
               "amount numeric(10,2), updated_at timestamp NOT NULL)")
    pg.execute("INSERT INTO shop_orders SELECT g, 'c' || g, g * 1.5, "
               "timestamp '2024-01-01' + g * interval '1 minute' FROM generate_series(1, %s) g",
               (n,))


def _pipeline(workdir: Path, name: str, extract: str, load: str) -> Path:
    path = workdir / f"{name}.yaml"
    path.write_text(f"""
pipeline:
  name: {name}
  steps:
    - extract:
        name: src
        type: postgres
        config:
          url: ${{env:DTEG_POSTGRES_URL}}
{extract}
    - load:
        name: dst
{load}
""")
    return path


def test_example_full_then_incremental(workdir, run_pipeline, pg) -> None:
    _orders(pg)
    path = workdir / "postgres_incremental.yaml"
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["read"] == 1000 and report["loaded"] == 1000
    assert rows(pg, "SELECT count(*), sum(amount) FROM orders_copy") == [(1000, 750750)]
    # Between runs: 3 updates and 2 inserts; the second run reads exactly those.
    pg.execute("UPDATE shop_orders SET amount = -1, updated_at = timestamp '2030-01-01' "
               "WHERE id IN (1, 2, 3)")
    pg.execute("INSERT INTO shop_orders VALUES (1001, 'new', 10, timestamp '2030-01-02'), "
               "(1002, 'new', 20, timestamp '2030-01-02')")
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["read"] == 5 and report["loaded"] == 5
    assert rows(pg, "SELECT count(*), count(DISTINCT id) FROM orders_copy") == [(1002, 1002)]
    assert rows(pg, "SELECT amount FROM orders_copy WHERE id IN (1, 2, 3, 1001) ORDER BY id"
                ) == [(-1,), (-1,), (-1,), (10,)]
    code, report, out = run_pipeline(path)
    assert code == 0 and report["read"] == 0, out


def test_state_reset_reads_everything_again(workdir, run_pipeline, pg, capsys) -> None:
    _orders(pg, 10)
    path = workdir / "postgres_incremental.yaml"
    assert run_pipeline(path)[1]["read"] == 10
    shown = cli(capsys, "state", "show", str(path))
    assert "cursor:orders" in shown and "updated_at = 2024-01-01 00:10:00" in shown
    assert "removed 1 state entry" in cli(capsys, "state", "reset", str(path))
    assert run_pipeline(path)[1]["read"] == 10


def test_partitions_and_types_round_trip_through_duckdb(workdir, run_pipeline, pg) -> None:
    pg.execute("CREATE TABLE typed (id int PRIMARY KEY, price numeric(12,3), note varchar(20), "
               "ok boolean, day date, at timestamptz, doc jsonb, uid uuid, tags text[], "
               "free numeric, blob bytea)")
    pg.execute("INSERT INTO typed SELECT g, g / 7.0, 'n' || g, g % 2 = 0, date '2024-01-01' + g,"
               " timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour', "
               "jsonb_build_object('g', g), gen_random_uuid(), ARRAY['a', 'b'], 1.5, '\\x00ff' "
               "FROM generate_series(1, 997) g")
    pg.execute("INSERT INTO typed (id) VALUES (0)")  # nulls everywhere else
    path = _pipeline(workdir, "pg_types", "          table: typed\n          partitions: 4",
                     "        type: duckdb\n        config: {database: out.duckdb, "
                     "table: typed, mode: replace}")
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["read"] == 998
    con = duckdb.connect(str(workdir / "out.duckdb"), read_only=True)
    expected = rows(pg, "SELECT sum(price) FROM typed")[0][0]
    assert con.execute("SELECT count(*), count(DISTINCT id), sum(price) FROM typed").fetchall(
    ) == [(998, 998, expected)]
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'typed'").fetchall())
    assert types["price"] == "DECIMAL(12,3)" and types["at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["doc"] == "VARCHAR" and types["free"] == "VARCHAR"
    assert con.execute("SELECT doc, blob FROM typed WHERE id = 1").fetchall() == [
        ('{"g": 1}', b"\x00\xff")]


def test_merge_sink_upserts_and_dedupes(workdir, run_pipeline, pg) -> None:
    pg.execute("CREATE TABLE changes (id int, v text, seq int)")
    pg.execute("INSERT INTO changes VALUES (1, 'a', 1), (2, 'b', 1), (3, 'c', 1)")
    # The target exists without a primary key: dteg updates matches and inserts the rest.
    pg.execute("CREATE TABLE merged (id int, v text, seq int)")
    pg.execute("INSERT INTO merged VALUES (1, 'old', 0), (9, 'keep', 0)")
    load = ("        type: postgres\n        config: {url: '${env:DTEG_POSTGRES_URL}', "
            "table: merged, mode: merge, key: id}")
    path = _pipeline(workdir, "pg_merge", "          table: changes", load)
    assert run_pipeline(path)[0] == 0
    assert rows(pg, "SELECT id, v FROM merged ORDER BY id") == [
        (1, "a"), (2, "b"), (3, "c"), (9, "keep")]
    # A table dteg creates gets the key as primary key: INSERT … ON CONFLICT.
    load2 = load.replace("table: merged", "table: merged_pk")
    path2 = _pipeline(workdir, "pg_merge2", "          table: changes", load2)
    assert run_pipeline(path2)[0] == 0
    pg.execute("UPDATE changes SET v = v || '2'")
    pg.execute("INSERT INTO changes VALUES (4, 'd', 1)")
    assert run_pipeline(path2)[0] == 0
    assert rows(pg, "SELECT id, v FROM merged_pk ORDER BY id") == [
        (1, "a2"), (2, "b2"), (3, "c2"), (4, "d")]
    assert rows(pg, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = "
                "'merged_pk'::regclass AND i.indisprimary") == [("id",)]
    assert rows(pg, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '_dteg_stage%'"
                ) == [(0,)]


def test_schema_evolution_evolve_and_freeze(workdir, run_pipeline, pg) -> None:
    _orders(pg, 5)
    evolve = ("        type: postgres\n        config: {url: '${env:DTEG_POSTGRES_URL}', "
              "table: copy, mode: append, schema_evolution: evolve}")
    freeze = evolve.replace("table: copy", "table: frozen").replace("evolve}", "freeze}")
    path_e = _pipeline(workdir, "pg_evolve", "          table: shop_orders", evolve)
    path_f = _pipeline(workdir, "pg_freeze", "          table: shop_orders", freeze)
    assert run_pipeline(path_e)[0] == 0 and run_pipeline(path_f)[0] == 0
    # The source gains a column and a wider type.
    pg.execute("ALTER TABLE shop_orders ADD COLUMN channel text DEFAULT 'web'")
    pg.execute("ALTER TABLE shop_orders ALTER COLUMN amount TYPE numeric(14,4)")
    code, _report, out = run_pipeline(path_e)
    assert code == 0, out
    assert rows(pg, "SELECT count(*), count(channel) FROM copy") == [(10, 5)]
    assert rows(pg, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                "attrelid = 'copy'::regclass AND attname = 'amount'") == [("numeric(14,4)",)]
    code, _report, out = run_pipeline(path_f)
    assert code == 1
    assert "schema_evolution: freeze" in out and "new column(s) channel (string)" in out
    assert "changed column(s) amount (numeric(10,2) → decimal128(14, 4))" in out
    assert "Traceback" not in out
    assert rows(pg, "SELECT count(*) FROM frozen") == [(5,)]  # untouched


@pytest.mark.parametrize("case", ["password", "port", "table"])
def test_connection_errors_are_one_clear_message(workdir, run_pipeline, pg, case) -> None:
    url = pg.url
    if case == "password":
        url = url.replace("dteg:dteg@", "dteg:wrong-pass-123@")
    elif case == "port":
        url = url.replace(":55432/", ":1/")
    table = "missing_table" if case == "table" else "shop_orders"
    _orders(pg, 1)
    path = workdir / "bad.yaml"
    path.write_text(f"""
pipeline:
  name: bad
  steps:
    - extract:
        type: postgres
        config: {{url: "{url}", table: {table}}}
    - load:
        type: duckdb
        config: {{database: out.duckdb, table: t}}
""")
    code, _report, out = run_pipeline(path)
    assert code == 1, out
    assert "Traceback" not in out and "wrong-pass-123" not in out
    error = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(error) == 1, out
    expected = {"password": "refused the login of user `dteg`: password authentication failed",
                "port": "cannot reach PostgreSQL at 127.0.0.1:1: Connection refused",
                "table": "table missing_table does not exist in PostgreSQL database dteg_test"}
    assert expected[case] in error[0]
    assert "step `extract`" in error[0]


def _run_cli(path: Path, env_extra: dict[str, str] | None = None,
             *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([*DTEG, "run", str(path), *args], env=env, text=True,
                          capture_output=True, timeout=300)


def test_kill_between_sink_commit_and_state_save_loses_nothing(workdir, pg) -> None:
    """SIGKILL right after every sink committed and before the cursor was saved: the next
    run saves that cursor (the loads did land), so even the append sink has no duplicates."""
    _orders(pg, 200)
    load = ("        type: postgres\n        config: {url: '${env:DTEG_POSTGRES_URL}', "
            "table: appended, mode: append}")
    path = _pipeline(workdir, "pg_crash", "          table: shop_orders\n"
                     "          incremental: {cursor: updated_at}", load)
    killed = _run_cli(path, {"DTEG_FAULT": "kill_before_state_commit"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert rows(pg, "SELECT count(*) FROM appended") == [(200,)]  # committed before the kill
    pg.execute("INSERT INTO shop_orders VALUES (201, 'late', 1, timestamp '2031-01-01')")
    again = _run_cli(path)
    assert again.returncode == 0, again.stderr
    assert "was killed after its loads committed" in again.stderr
    assert rows(pg, "SELECT count(*), count(DISTINCT id) FROM appended") == [(201, 201)]


def test_kill_during_the_load_loses_nothing(workdir, pg) -> None:
    """SIGKILL while rows are being staged: nothing reached the target, the cursor did not
    move, and the next run loads every row exactly once."""
    _orders(pg, 300_000)
    load = ("        type: postgres\n        config: {url: '${env:DTEG_POSTGRES_URL}', "
            "table: appended, mode: append}")
    path = _pipeline(workdir, "pg_crash2", "          table: shop_orders\n"
                     "          incremental: {cursor: updated_at}\n          batch_rows: 5000\n"
                     "          max_rows_per_second: 100000", load)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*DTEG, "run", str(path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    import time

    deadline = time.monotonic() + 120
    staged = 0
    while time.monotonic() < deadline and proc.poll() is None:
        staged = rows(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                      "AND tablename LIKE '\\_dteg\\_stage%'")[0][0]
        if staged:
            time.sleep(0.5)
            break
        time.sleep(0.1)
    assert staged, "the load never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert rows(pg, "SELECT to_regclass('appended')") == [(None,)]
    again = _run_cli(path)
    assert again.returncode == 0, again.stderr
    assert rows(pg, "SELECT count(*), count(DISTINCT id) FROM appended") == [(300_000, 300_000)]
    assert rows(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND "
                "tablename LIKE '\\_dteg\\_stage%'") == [(0,)]


def test_state_in_a_postgres_table(workdir, run_pipeline, pg, capsys) -> None:
    _orders(pg, 20)
    path = workdir / "postgres_incremental.yaml"
    path.write_text(path.read_text().replace(
        "  name: postgres_incremental\n",
        "  name: postgres_incremental\n  state: {type: postgres, url: "
        "'${env:DTEG_POSTGRES_URL}', table: dteg_state}\n"))
    assert run_pipeline(path)[1]["read"] == 20
    assert rows(pg, "SELECT key, run_id IS NOT NULL FROM dteg_state") == [("cursor:orders", True)]
    assert not (workdir / ".dteg" / "state.sqlite").exists()
    pg.execute("UPDATE shop_orders SET updated_at = timestamp '2030-01-01' WHERE id = 7")
    assert run_pipeline(path)[1]["read"] == 1
    shown = cli(capsys, "state", "show", str(path))
    assert "updated_at = 2030-01-01 00:00:00" in shown and "dteg:***@" in shown
    assert "removed 1 state entry" in cli(capsys, "state", "reset", str(path))
    assert rows(pg, "SELECT count(*) FROM dteg_state") == [(0,)]


def test_replace_with_zero_rows_leaves_an_empty_target_with_the_schema(workdir, run_pipeline,
                                                                       pg) -> None:
    _orders(pg, 5)
    replace = ("        type: postgres\n        config: {url: '${env:DTEG_POSTGRES_URL}', "
               "table: copy, mode: replace}")
    append = replace.replace("table: copy", "table: log").replace("replace}", "append}")
    path_r = _pipeline(workdir, "pg_zero_replace", "          table: shop_orders", replace)
    path_a = _pipeline(workdir, "pg_zero_append", "          table: shop_orders", append)
    assert run_pipeline(path_r)[0] == 0 and run_pipeline(path_a)[0] == 0
    pg.execute("DELETE FROM shop_orders")  # the source is now empty
    fresh = replace.replace("table: copy", "table: fresh")
    path_n = _pipeline(workdir, "pg_zero_new", "          table: shop_orders", fresh)
    for path in (path_r, path_a, path_n):
        code, report, out = run_pipeline(path)
        assert code == 0, out
        assert report is not None and (report["read"], report["loaded"]) == (0, 0)
        assert "(0 rows)" in out
    assert rows(pg, "SELECT count(*) FROM copy") == [(0,)]  # replaced by no rows
    assert rows(pg, "SELECT count(*) FROM log") == [(5,)]  # append added nothing
    assert rows(pg, "SELECT count(*) FROM fresh") == [(0,)]  # created, empty
    columns = ("SELECT attname FROM pg_attribute WHERE attrelid = '{}'::regclass AND "
               "attnum > 0 AND NOT attisdropped ORDER BY attnum")
    for table in ("copy", "fresh"):
        assert [r[0] for r in rows(pg, columns.format(table))] == [
            "id", "customer", "amount", "updated_at"]
    assert rows(pg, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '_dteg_stage%'"
                ) == [(0,)]
