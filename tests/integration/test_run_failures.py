"""A failed run leaves every target as it was, cleans its staging, and says why."""

from __future__ import annotations

from pathlib import Path

import duckdb

FAILING = """
pipeline:
  name: atomic
  steps:
    - extract:
        type: csv
        config: {path: data/customers.csv}
    - validate:
        rules:
          - {type: range_check, column: id, max: 10, on_failure: fail}
    - load:
        type: duckdb
        config: {database: .dteg/warehouse.duckdb, table: customers, mode: replace}
    - load:
        type: parquet
        config: {path: out/customers.parquet}
"""


def test_failed_run_leaves_table_and_file_unchanged(workdir: Path, run_pipeline) -> None:
    ok = workdir / "quickstart.yaml"
    assert run_pipeline(ok)[0] == 0
    db = workdir / ".dteg" / "warehouse.duckdb"
    (workdir / "out").mkdir()
    (workdir / "out" / "customers.parquet").write_bytes(b"previous output")
    failing = workdir / "atomic.yaml"
    failing.write_text(FAILING)
    code, report, out = run_pipeline(failing)
    assert code == 1
    assert report["status"] == "failed" and "loaded" not in report
    assert "rule `range_check` failed" in out and "on_failure: fail" in out
    assert "step `validate` (" in out  # the step's file:line
    assert "Traceback" not in out
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM customers").fetchall() == [(8,)]
    con.close()
    assert (workdir / "out" / "customers.parquet").read_bytes() == b"previous output"
    assert not list((workdir / "out").glob(".*dteg-tmp*"))
    assert not list((workdir / ".dteg" / "staging").glob("*/*"))


def test_missing_input_is_one_clear_message(workdir: Path, run_pipeline) -> None:
    path = workdir / "missing.yaml"
    path.write_text(FAILING.replace("data/customers.csv", "data/nothing-*.csv"))
    code, _report, out = run_pipeline(path)
    assert code == 2  # the environment is wrong: found before the run starts
    assert "no file matches" in out and "nothing-*.csv" in out
    assert "allow_empty" in out
    assert "Traceback" not in out and "while running" not in out


def test_dbt_step_without_project_fails_before_any_load_commits(workdir: Path,
                                                                 run_pipeline) -> None:
    path = workdir / "no_dbt.yaml"
    path.write_text(FAILING.replace("max: 10", "max: 1000").replace(
        "table: customers", "table: customers_no_dbt") + """
    - transform:
        name: models
        type: dbt
        project_dir: no_such_dbt
""")
    code, report, out = run_pipeline(path)
    assert code == 2
    # The failed run's report says so, and holds no counts: nothing ran.
    assert report is not None and report["status"] == "failed" and "loaded" not in report
    assert "step `models` (" in out and "missing dbt_project.yml" in out
    assert "read again" not in out and "Traceback" not in out
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"))
    tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables")
              .fetchall()}
    con.close()
    assert "customers_no_dbt" not in tables  # nothing was loaded


def test_debug_shows_the_traceback(workdir: Path, run_pipeline) -> None:
    path = workdir / "missing.yaml"
    path.write_text(FAILING.replace("data/customers.csv", "data/nothing-*.csv"))
    code, _report, out = run_pipeline(path, "--debug")
    assert code == 2
    assert "Traceback" in out
