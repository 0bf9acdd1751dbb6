"""Real runs through the orchestrator's queue, in this process (Beam's embedded runner):
retries only for failures that may pass, every attempt recorded; quality gates never
retried; backfill partitions as server runs; a pipeline triggered after another's success;
the alert events each outcome produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dteg.cli import main
from dteg.orchestrator.catalog import Catalog, Revision
from dteg.orchestrator.scheduler import Dispatcher, Scheduler, queue_run
from dteg.orchestrator.store.records import RunRow
from dteg.orchestrator.store.store import Store
from dteg.orchestrator.watcher import Watcher
from dteg.orchestrator.worker import execute_task
from tests.integration.databases import rows
from tests.server_api import Recording

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Notified:
    events: list[tuple[str, str, str | None]] = field(default_factory=list)

    def notify(self, revision: Revision, event: str, run: RunRow | None, now: datetime,
               detail: str | None = None) -> None:
        self.events.append((revision.name, event, run.id if run else None))


class Queue:
    """A catalog, store, dispatcher and watcher over one folder; ``drain()`` runs every
    ready task in this process until nothing is left."""

    def __init__(self, folder: Path, tmp: Path) -> None:
        self.store = Store.open(f"sqlite:///{tmp / 'orchestrator.sqlite'}")
        self.catalog = Catalog(folder)
        Scheduler(self.store, self.catalog).sync(self.catalog.refresh(), _now())
        self.executor = Recording()
        self.dispatcher = Dispatcher(self.store, self.catalog, self.executor)
        self.notified = Notified()
        self.watcher = Watcher(self.store, self.catalog, self.notified, log=lambda _t: None)

    def manual(self, name: str) -> RunRow:
        revision = self.catalog.get(name)
        assert revision is not None
        run = queue_run(self.store, revision, kind="manual", now=_now())
        assert run is not None
        return run

    def drain(self, limit: int = 20) -> None:
        for _ in range(limit):
            self.dispatcher.dispatch(_now())
            if not self.executor.tasks:
                self.watcher.step(_now())
                self.dispatcher.dispatch(_now())
                if not self.executor.tasks:
                    return
            task = self.executor.tasks.pop(0)
            execute_task(task, self.store, "worker:test")
            self.watcher.step(_now())
        raise AssertionError("the queue did not drain")


def _now() -> datetime:
    return datetime.now(timezone.utc)


# The watcher works out the events an alert listens to; these pipelines listen to all.
ALERTS = """\
  monitoring:
    alerts:
      - type: webhook
        url: http://127.0.0.1:9/hook
        on: [failure, retry, success, recovered, quality, schema_drift]
"""


def _write(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(f"pipeline:\n  name: {name}\n{body}{ALERTS}")


CSV_STEPS = """\
  steps:
    - extract: {type: csv, config: {path: in.csv}}
    - load: {type: duckdb, config: {database: out.duckdb, table: %s, mode: replace}}
"""


def test_a_connection_failure_is_retried_and_every_attempt_is_recorded(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    _write(folder, "unreachable", """\
  retries: {max_attempts: 2, initial: 0s, jitter: false}
  steps:
    - extract: {type: postgres, config: {url: "postgresql://u:pw-s3cret@127.0.0.1:1/db", table: t}}
    - load: {type: duckdb, config: {database: out.duckdb, table: t, mode: replace}}
""")
    queue = Queue(folder, tmp_path)
    run = queue.manual("unreachable")
    queue.drain()
    final = queue.store.run(run.id)
    assert final is not None and final.status == "failed" and final.attempt == 2
    attempts = queue.store.attempts(run.id)
    assert [(a.status, a.retriable) for a in attempts] == [("failed", True), ("failed", True)]
    assert all("127.0.0.1:1" in (a.error or "") for a in attempts)
    assert not any("pw-s3cret" in (a.error or "") for a in attempts)
    logs = " ".join(line.message for line in queue.store.logs(run.id))
    assert "retriable: attempt 2" in logs and "pw-s3cret" not in logs
    assert [e[1] for e in queue.notified.events] == ["retry", "failure"]


def test_a_failed_quality_gate_is_never_retried(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "in.csv").write_text("id,name\n1,ada\n2,\n3,\n")
    _write(folder, "gated", """\
  retries: {max_attempts: 3, initial: 0s}
  quality:
    validation_rules: [{type: null_check, column: name}]
    max_invalid_ratio: 0.1
""" + CSV_STEPS % "gated")
    queue = Queue(folder, tmp_path)
    run = queue.manual("gated")
    queue.drain()
    final = queue.store.run(run.id)
    assert final is not None and final.status == "failed" and final.attempt == 1
    assert final.retriable is False and "max_invalid_ratio" in (final.error or "")
    assert [e[1] for e in queue.notified.events] == ["failure", "quality"]


def test_success_after_a_failure_is_recovered_and_triggers_downstream(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    _write(folder, "upstream", CSV_STEPS % "up")
    _write(folder, "downstream", "  trigger: {after: upstream}\n" + CSV_STEPS.replace(
        "out.duckdb", "down.duckdb") % "down")
    queue = Queue(folder, tmp_path)
    first = queue.manual("upstream")  # in.csv is missing: a config error
    queue.drain()
    assert queue.store.run(first.id).status == "failed"  # type: ignore[union-attr]
    assert queue.store.runs("downstream") == []  # only after success
    (folder / "in.csv").write_text("id,name\n1,ada\n")
    second = queue.manual("upstream")
    queue.drain()
    down = queue.store.runs("downstream")
    assert len(down) == 1 and down[0].kind == "trigger" and down[0].triggered_by == second.id
    assert down[0].status == "succeeded" and down[0].rows_loaded == 1
    assert [e[1] for e in queue.notified.events if e[0] == "upstream"] == [
        "failure", "success", "recovered"]


def test_backfill_partitions_run_as_server_runs_once(pg: Any, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    pg.execute("CREATE TABLE events (id int PRIMARY KEY, day date, v text)")
    pg.execute("INSERT INTO events SELECT g, date '2026-11-01' + (g % 3), 'v' || g "
               "FROM generate_series(1, 300) g")
    folder = tmp_path / "p"
    _write(folder, "daily", f"""\
  steps:
    - extract:
        type: postgres
        config: {{url: "{pg.url}", table: events, incremental: {{cursor: day}}}}
    - load:
        type: postgres
        config: {{url: "{pg.url}", table: events_copy, mode: merge, key: id}}
""")
    queue = Queue(folder, tmp_path)
    store_url = f"sqlite:///{tmp_path / 'orchestrator.sqlite'}"
    args = ["backfill", str(folder / "daily.yaml"), "--start", "2026-11-01", "--end",
            "2026-11-04", "--step", "1d", "--server", "--store", store_url]
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code in (0, None)
    assert "queued 3 partition run(s)" in capsys.readouterr().out
    queue.drain()
    runs = sorted(queue.store.runs("daily"), key=lambda r: r.params["backfill"]["index"])
    assert [(r.kind, r.status, r.rows_loaded) for r in runs] == [
        ("backfill", "succeeded", 100)] * 3
    assert rows(pg, "SELECT count(*), count(DISTINCT id) FROM events_copy") == [(300, 300)]
    # Every partition is done in the state store: submitting again queues nothing.
    with pytest.raises(SystemExit):
        main(args)
    out = capsys.readouterr().out
    assert "queued 0 partition run(s)" in out and "3 already done" in out
