"""MySQL/MariaDB source and sink against a real MariaDB (scripts/services/mariadb)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.databases import rows

pytestmark = pytest.mark.integration


def _customers(my, n: int) -> None:
    cur = my.cursor()
    cur.execute("CREATE TABLE shop_customers (id BIGINT PRIMARY KEY, name VARCHAR(40), "
                "balance DECIMAL(10,2), active BOOLEAN, joined DATETIME(6), note TEXT)")
    cur.executemany("INSERT INTO shop_customers VALUES (%s, %s, %s, %s, %s, %s)", [
        (i, f"name {i}", i * 2.5, i % 2 == 0, f"2024-01-01 00:00:{i % 60:02d}.123456",
         None if i % 3 else "x" * 300) for i in range(1, n + 1)])


def _pipeline(workdir: Path, name: str, extract: str, load: str) -> Path:
    path = workdir / f"{name}.yaml"
    path.write_text(f"""
pipeline:
  name: {name}
  steps:
    - extract:
        name: src
        type: mysql
        config:
          url: ${{env:DTEG_MARIADB_URL}}
{extract}
    - load:
        name: dst
{load}
""")
    return path


def test_example_full_then_incremental(workdir, run_pipeline, my) -> None:
    _customers(my, 500)
    path = workdir / "mysql_incremental.yaml"
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["read"] == 500 and report["loaded"] == 500
    assert rows(my, "SELECT count(*), sum(balance), sum(active) FROM customers_copy") == [
        (500, 313125, 250)]
    cur = my.cursor()
    cur.execute("INSERT INTO shop_customers VALUES (501, 'new', 1, TRUE, NOW(), NULL), "
                "(502, 'new', 2, FALSE, NOW(), 'n')")
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["read"] == 2
    assert rows(my, "SELECT count(*), count(DISTINCT id) FROM customers_copy") == [(502, 502)]
    assert rows(my, "SELECT name, note, joined FROM customers_copy WHERE id = 3") == rows(
        my, "SELECT name, note, joined FROM shop_customers WHERE id = 3")
    assert run_pipeline(path)[1]["read"] == 0


def test_updated_at_cursor_and_merge(workdir, run_pipeline, my) -> None:
    cur = my.cursor()
    cur.execute("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(10), "
                "updated_at DATETIME(6) NOT NULL)")
    cur.execute("INSERT INTO items VALUES (1, 'a', '2024-01-01'), (2, 'b', '2024-01-02'), "
                "(3, 'c', '2024-01-03')")
    load = ("        type: mysql\n        config: {url: '${env:DTEG_MARIADB_URL}', "
            "table: items_copy, mode: merge, key: id}")
    path = _pipeline(workdir, "my_merge", "          table: items\n"
                     "          incremental: {cursor: updated_at}\n          partitions: 3", load)
    assert run_pipeline(path)[0] == 0
    cur.execute("UPDATE items SET v = 'B', updated_at = '2030-01-01' WHERE id = 2")
    cur.execute("INSERT INTO items VALUES (4, 'd', '2030-01-01')")
    code, report, out = run_pipeline(path)
    assert code == 0 and report["read"] == 2, out
    assert rows(my, "SELECT id, v FROM items_copy ORDER BY id") == [
        (1, "a"), (2, "B"), (3, "c"), (4, "d")]


def test_schema_evolution_evolve_and_freeze(workdir, run_pipeline, my) -> None:
    _customers(my, 4)
    evolve = ("        type: mysql\n        config: {url: '${env:DTEG_MARIADB_URL}', "
              "table: copy_e, mode: append}")
    freeze = evolve.replace("copy_e", "copy_f").replace("append}", "append, "
                                                        "schema_evolution: freeze}")
    path_e = _pipeline(workdir, "my_e", "          table: shop_customers", evolve)
    path_f = _pipeline(workdir, "my_f", "          table: shop_customers", freeze)
    assert run_pipeline(path_e)[0] == 0 and run_pipeline(path_f)[0] == 0
    cur = my.cursor()
    cur.execute("ALTER TABLE shop_customers ADD COLUMN tier INT DEFAULT 7, "
                "MODIFY name VARCHAR(400)")
    code, _report, out = run_pipeline(path_e)
    assert code == 0, out
    assert rows(my, "SELECT count(*), sum(tier) FROM copy_e") == [(8, 28)]
    code, _report, out = run_pipeline(path_f)
    assert code == 1 and "new column(s) tier (int32)" in out, out
    assert rows(my, "SELECT count(*) FROM copy_f") == [(4,)]


@pytest.mark.parametrize("case", ["password", "port", "table"])
def test_connection_errors_are_one_clear_message(workdir, run_pipeline, my, case) -> None:
    url = my.url
    if case == "password":
        url = url.replace("dteg:dteg@", "dteg:wrong-pass-123@")
    elif case == "port":
        url = url.replace(":53306/", ":1/")
    path = _pipeline(workdir, "my_bad", f"          table: {'nope' if case == 'table' else 'x'}",
                     "        type: duckdb\n        config: {database: o.duckdb, table: t}")
    path.write_text(path.read_text().replace("${env:DTEG_MARIADB_URL}", url))
    code, _report, out = run_pipeline(path)
    assert code == 1, out
    assert "Traceback" not in out and "wrong-pass-123" not in out
    error = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(error) == 1, out
    expected = {"password": "MySQL at 127.0.0.1:53306 refused the login of user `dteg`",
                "port": "cannot reach MySQL at 127.0.0.1:1",
                "table": "table nope does not exist in MySQL database"}
    assert expected[case] in error[0]


def test_replace_with_zero_rows_leaves_an_empty_target_with_the_schema(workdir, run_pipeline,
                                                                       my) -> None:
    _customers(my, 4)
    replace = ("        type: mysql\n        config: {url: '${env:DTEG_MARIADB_URL}', "
               "table: copy_r, mode: replace}")
    append = replace.replace("copy_r", "copy_a").replace("replace}", "append}")
    path_r = _pipeline(workdir, "my_zero_r", "          table: shop_customers", replace)
    path_a = _pipeline(workdir, "my_zero_a", "          table: shop_customers", append)
    assert run_pipeline(path_r)[0] == 0 and run_pipeline(path_a)[0] == 0
    my.cursor().execute("DELETE FROM shop_customers")  # the source is now empty
    fresh = replace.replace("copy_r", "copy_n")
    path_n = _pipeline(workdir, "my_zero_n", "          table: shop_customers", fresh)
    for path in (path_r, path_a, path_n):
        code, report, out = run_pipeline(path)
        assert code == 0, out
        assert report is not None and (report["read"], report["loaded"]) == (0, 0)
        assert "(0 rows)" in out
    assert rows(my, "SELECT count(*) FROM copy_r") == [(0,)]  # replaced by no rows
    assert rows(my, "SELECT count(*) FROM copy_a") == [(4,)]  # append added nothing
    assert rows(my, "SELECT count(*) FROM copy_n") == [(0,)]  # created, empty
    for table in ("copy_r", "copy_n"):
        assert [r[0] for r in rows(my, "SELECT column_name FROM information_schema.columns "
                                   f"WHERE table_schema = DATABASE() AND table_name = "
                                   f"'{table}' ORDER BY ordinal_position")] == [
            "id", "name", "balance", "active", "joined", "note"]
