"""dbt-postgres runs after a load into the real PostgreSQL server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.databases import REPO

PIPELINE = """
pipeline:
  name: pg_dbt
  steps:
    - extract:
        type: csv
        config: {path: data/customers.csv}
    - validate:
        rules: [{type: null_check, columns: [id, country]}]
    - load:
        type: postgres
        config:
          url: ${env:DTEG_POSTGRES_URL}
          table: customers
          mode: replace
    - transform:
        type: dbt
        project_dir: dbt_postgres
        profiles_dir: dbt_postgres
        model: customers_per_country
        tests: true
"""


@pytest.fixture
def dbt_workdir(workdir: Path, pg, postgres_server, monkeypatch) -> Path:
    shutil.copytree(REPO / "tests" / "data" / "dbt_postgres", workdir / "dbt_postgres")
    for key, value in postgres_server.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DTEG_POSTGRES_URL", pg.url)
    monkeypatch.setenv("DTEG_DBT_SCHEMA", pg.schema)
    (workdir / "pg_dbt.yaml").write_text(PIPELINE)
    return workdir


def test_dbt_postgres_builds_after_the_postgres_load(dbt_workdir: Path, pg,
                                                     run_pipeline) -> None:
    code, report, out = run_pipeline(dbt_workdir / "pg_dbt.yaml")
    assert code == 0, out
    assert report["dbt"][0]["failed"] == []
    assert "customers_per_country" in report["dbt"][0]["passed"]
    rows = dict(pg.execute(
        "SELECT country, customers FROM customers_per_country").fetchall())
    loaded = dict(pg.execute(
        "SELECT country, count(*) FROM customers GROUP BY country").fetchall())
    assert rows == loaded and sum(rows.values()) == report["loaded"]


def test_failing_dbt_postgres_test_fails_the_run_with_its_name(dbt_workdir: Path,
                                                               run_pipeline) -> None:
    schema = dbt_workdir / "dbt_postgres" / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace(
        "data_tests: [not_null, unique]",
        "data_tests:\n          - accepted_values:\n              arguments: {values: [KR]}"))
    code, _report, out = run_pipeline(dbt_workdir / "pg_dbt.yaml")
    assert code == 1
    assert "accepted_values_customers_per_country_country__KR" in out
