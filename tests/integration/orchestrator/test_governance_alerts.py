"""The server's governance jobs with a real HTTP receiver on 127.0.0.1: the scheduled
retention pass deletes expired rows in DuckDB and reports a load it could not clean; that
`retention_failed` and the catalog's `pii_unprotected` reach the pipelines' webhook channel
through the orchestrator's alert dispatcher; a second pass and a restarted server do not send
them again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from dteg.cli import main
from dteg.orchestrator.alerts import AlertSettings
from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.governance_jobs import GovernanceJobs
from dteg.orchestrator.notify import StoreNotifier
from dteg.orchestrator.store.store import Store
from tests.integration.orchestrator.test_alert_delivery import (  # noqa: F401 - fixture
    HttpReceiver,
    http,
)

pytestmark = pytest.mark.integration

EVENTS = "12,ada@example.com,2020-01-01\n13,bob@example.com,2099-01-01\n"
KEPT = """\
pipeline:
  name: kept
  retention: {column: created_at, keep: 400d}
  monitoring:
    alerts:
      - {type: webhook, url: "URL/hook", on: [retention_failed, pii_unprotected]}
  steps:
    - extract: {type: csv, config: {path: people.csv}}
    - load: {type: duckdb, config: {database: people.duckdb, table: people}}
"""
BROKEN = """\
pipeline:
  name: broken
  retention: {column: no_such_column, keep: 30d}
  monitoring:
    alerts:
      - {type: webhook, url: "URL/hook", on: [retention_failed]}
  steps:
    - extract: {type: csv, config: {path: people.csv}}
    - load: {type: duckdb, config: {database: other.duckdb, table: people}}
"""


def _count(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM people").fetchone()[0])
    finally:
        con.close()


def test_scheduled_retention_and_governance_alerts_reach_the_channels(
        tmp_path: Path, http: HttpReceiver) -> None:  # noqa: F811
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "people.csv").write_text("id,email,created_at\n" + EVENTS)
    for name, text in (("kept", KEPT), ("broken", BROKEN)):
        (folder / f"{name}.yaml").write_text(text.replace("URL", http.url))
        try:  # the runs load the rows; `kept` writes emails unprotected
            main(["run", str(folder / f"{name}.yaml"), "--quiet"])
        except SystemExit as exc:
            assert not exc.code
    assert _count(folder / "people.duckdb") == 2

    store = Store.open(f"sqlite:///{tmp_path / 'orchestrator.sqlite'}")
    catalog = Catalog(folder)
    catalog.refresh()
    notifier = StoreNotifier(store, AlertSettings())
    logged: list[str] = []
    jobs = GovernanceJobs(catalog, dt.timedelta(days=1), logged.append)
    now = dt.datetime.now(dt.timezone.utc)
    jobs.step(now, notifier.notify)

    assert _count(folder / "people.duckdb") == 1  # 2020's row is past 400 days
    assert any("deleted 1 row" in line for line in logged), logged
    bodies = [r.body for r in http.on("/hook")]
    by_event = {(b["pipeline"], b["event"]): b for b in bodies}
    assert set(by_event) == {("kept", "pii_unprotected"), ("broken", "retention_failed")}, \
        bodies
    assert "no_such_column" in str(by_event[("broken", "retention_failed")])
    assert "email" in str(by_event[("kept", "pii_unprotected")])

    # The next pass within the day: no retention, nothing new to send; nor after a restart.
    jobs.step(now + dt.timedelta(hours=1), notifier.notify)
    GovernanceJobs(catalog, None, logged.append).step(now + dt.timedelta(hours=2),
                                                      notifier.notify)
    assert len(http.on("/hook")) == 2
    store.close()
