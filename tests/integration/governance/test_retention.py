"""Retention on the real PostgreSQL and DuckDB: rows older than `retention:` allows are gone
after `dteg privacy retention`, the others stay; a file load is reported as not enforced; a
wrong time column fails the job with an alert. (Services: scripts/services/postgres.)"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from dteg.cli import main
from tests.integration.databases import rows

pytestmark = pytest.mark.usefixtures("pg")

NOW = dt.datetime.now(dt.timezone.utc)
AGES_DAYS = [1, 30, 399, 401, 800, 2000]  # three inside 400 days, three past it

PIPELINE = """\
pipeline:
  name: keep_orders
  owners: [shop-team@example.com]
  retention:
    column: created_at
    keep: 400d
    sinks:
      archive: {keep: forever}
  steps:
    - extract:
        type: csv
        config: {path: orders.csv, schema: {created_at: timestamp}}
    - load:
        name: warehouse
        type: duckdb
        config: {database: shop.duckdb, table: orders}
    - load:
        name: replica
        input: extract
        type: postgres
        config: {url: "${env:DTEG_POSTGRES_URL}", table: orders}
    - load:
        name: events
        input: extract
        type: jsonl
        config: {path: out/orders.jsonl}
    - load:
        name: archive
        input: extract
        type: duckdb
        config: {database: archive.duckdb, table: orders}
"""


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    lines = ["id,created_at"] + [
        f"{i},{(NOW - dt.timedelta(days=age)).strftime('%Y-%m-%d %H:%M:%S')}"
        for i, age in enumerate(AGES_DAYS, start=1)]
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "keep_orders.yaml").write_text(PIPELINE)
    code, out = _cli(capsys, "run", str(tmp_path / "keep_orders.yaml"))
    assert code == 0, out
    return tmp_path


def _duck_ids(path: Path) -> list[int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT id FROM orders ORDER BY id").fetchall()]
    finally:
        con.close()


def test_expired_rows_go_and_the_others_stay(folder: Path, pg, capsys) -> None:
    assert _duck_ids(folder / "shop.duckdb") == [1, 2, 3, 4, 5, 6]
    code, out = _cli(capsys, "privacy", "retention", str(folder), "--format", "json")
    assert code == 0, out
    outcomes = {o["step"]: o for o in json.loads(out)}
    assert set(outcomes) == {"warehouse", "replica", "events"}  # archive keeps forever
    assert outcomes["warehouse"]["status"] == outcomes["replica"]["status"] == "deleted"
    assert outcomes["warehouse"]["deleted"] == outcomes["replica"]["deleted"] == 3
    assert outcomes["events"]["status"] == "unsupported"
    assert "cannot delete rows in place" in outcomes["events"]["message"]
    assert _duck_ids(folder / "shop.duckdb") == [1, 2, 3]
    assert [r[0] for r in rows(pg, "SELECT id FROM orders ORDER BY id")] == [1, 2, 3]
    assert _duck_ids(folder / "archive.duckdb") == [1, 2, 3, 4, 5, 6]
    # A second pass finds nothing more to delete.
    code, out = _cli(capsys, "privacy", "retention", str(folder / "keep_orders.yaml"))
    assert code == 0, out
    assert "deleted 0 rows with created_at" in out
    assert "NOT ENFORCED" in out and "out/orders.jsonl" not in out.split("NOT ENFORCED")[0]


def test_a_wrong_time_column_fails_with_an_alert(folder: Path, pg, capsys) -> None:
    spec = folder / "keep_orders.yaml"
    spec.write_text(PIPELINE.replace("column: created_at", "column: placed_at"))
    code, out = _cli(capsys, "privacy", "retention", str(spec))
    assert code == 1
    assert "FAILED: the time column `placed_at` is not in" in out
    assert "Traceback" not in out
    alerts = [json.loads(line) for line in
              (folder / ".dteg" / "alerts.jsonl").read_text().splitlines()]
    assert {a["step"] for a in alerts if a["type"] == "retention_failed"} == {
        "warehouse", "replica"}
    assert _duck_ids(folder / "shop.duckdb") == [1, 2, 3, 4, 5, 6]  # nothing deleted


def test_a_typo_in_retention_sinks_names_its_line(folder: Path, capsys) -> None:
    spec = folder / "keep_orders.yaml"
    spec.write_text(PIPELINE.replace("      archive: {keep: forever}",
                                     "      archiv: {keep: forever}"))
    code, out = _cli(capsys, "privacy", "retention", str(spec))
    assert code == 2
    assert "keep_orders.yaml:8" in out and "`archiv`" in out and "archive" in out
