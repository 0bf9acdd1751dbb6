"""`dteg server --pipelines <a copy of pipelines/>` end to end on the embedded executor (no
Redis): every example is served and `every_minute.yaml` runs on time; a failing pipeline sends
one Slack payload and one e-mail to real receivers, then is throttled; a file edited into an
error keeps its last good revision; kill -9 of the server and a restart run the missed tick
once, never twice."""

from __future__ import annotations

import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.orchestrator.server_process import (
    ServerProcess,
    store_of,
    utcnow,
    wait_for,
)
from tests.integration.orchestrator.test_alert_delivery import (  # noqa: F401
    HttpReceiver,
    SmtpServer,
    free_port,
    http,
    relay,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAILING = """\
pipeline:
  name: always_fails
  schedule: "* * * * *"
  steps:
    - extract: {type: csv, config: {path: missing.csv}}
    - load: {type: duckdb, config: {database: out/fails.duckdb, table: t, mode: replace}}
  monitoring:
    alerts:
      - type: slack
        webhook_url: "%(hook)s"
        channel: "#data-alerts"
      - type: email
        recipients: [ops@example.com]
        from: dteg@example.com
        smtp_host: 127.0.0.1
        smtp_port: %(smtp)d
"""


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return str(answer.read().decode())


def test_schedules_alerts_reload_and_a_kill_9_restart(
        workdir: Path, tmp_path: Path, http: HttpReceiver, relay: SmtpServer  # noqa: F811
) -> None:
    folder = workdir
    every = (folder / "every_minute.yaml").read_text()
    (folder / "fails.yaml").write_text(FAILING % {"hook": http.url + "/hook",
                                                  "smtp": relay.port})
    port = free_port()
    # About scheduling: sign-in has its own tests (tests/integration/server/).
    server = ServerProcess(folder, tmp_path / "server.log", "--workers", "2",
                           "--port", str(port), "--no-auth").start()
    try:
        store = wait_for(lambda: (folder / ".dteg" / "orchestrator.sqlite").exists()
                         and store_of(folder), "the store", log=server.log)

        def succeeded() -> list:  # type: ignore[type-arg]
            return [r for r in store.runs("every_minute", limit=100)
                    if r.status == "succeeded"]

        first = wait_for(succeeded, "a scheduled run of every_minute", log=server.log)[0]
        assert first.kind == "schedule" and first.scheduled_at is not None
        assert first.scheduled_at.second == 0
        assert (first.rows_read, first.rows_loaded, first.rows_dead_lettered) == (13, 11, 2)
        # /metrics counts it (from the store, as for any executor); /healthz is up.
        def counted() -> str | None:
            text = _get(port, "/metrics")
            wanted = 'dteg_runs_total{pipeline="every_minute",status="succeeded"}'
            return text if wanted in text else None

        metrics = wait_for(counted, "the run in /metrics", timeout=30, log=server.log)
        assert 'dteg_stream_records_in_total{pipeline="every_minute"}' in metrics
        assert "dteg_live_workers 2.0" in metrics
        assert _get(port, "/healthz") == "ok\n"
        served = {row.name for row in store.pipelines()}
        assert {"quickstart", "csv_to_parquet", "every_minute", "always_fails"} <= served
        assert first.started_at is not None and first.first_read_at is not None
        assert first.started_at >= first.scheduled_at
        logs = [line.message for line in store.logs(first.id)]
        assert any("attempt 1 of 3" in line for line in logs)
        assert any("11 rows" in line for line in logs), logs

        # The failing pipeline: a configuration error is not retried; one alert each.
        failed = wait_for(lambda: [r for r in store.runs("always_fails")
                                   if r.status == "failed"], "a failed run", log=server.log)
        assert failed[0].attempt == 1 and "missing.csv" in (failed[0].error or "")
        wait_for(lambda: http.on("/hook") and relay.inbox.mails, "the alerts", timeout=60)
        slack = http.on("/hook")[0].body
        assert "always_fails" in slack["text"] and "missing.csv" in str(slack)
        mail = relay.inbox.mails[0].message
        assert "always_fails" in mail["Subject"]
        assert "missing.csv" in mail.get_payload()

        # A broken edit is reported; the last good revision keeps running.
        good_sha = store.pipeline("every_minute").sha256  # type: ignore[union-attr]
        (folder / "every_minute.yaml").write_text(every.replace("type: csv", "type: csvv"))
        wait_for(lambda: (store.pipeline("every_minute").error or None),  # type: ignore[union-attr]
                 "the broken revision reported", log=server.log)
        assert "csvv" in server.log()

        # A second failure within the throttle interval sends nothing more.
        wait_for(lambda: len([r for r in store.runs("always_fails")
                              if r.status == "failed"]) >= 2, "a second failure",
                 log=server.log)
        wait_for(lambda: any(d["status"] == "throttled" for d in store.deliveries(
            "always_fails")), "the throttled deliveries", timeout=60, log=server.log)
        assert len(http.on("/hook")) == 1 and len(relay.inbox.mails) == 1
        wait_for(lambda: len(succeeded()) >= 2, "a second run of the last good revision",
                 log=server.log)
        assert {r.sha256 for r in succeeded()} == {good_sha}

        # kill -9, stay down across a tick, restart: the missed tick runs once.
        (folder / "every_minute.yaml").write_text(every)
        server.kill9()
        down_at = utcnow()
        missed = (down_at + timedelta(minutes=1)).replace(second=0, microsecond=0)
        wait_for(lambda: utcnow() > missed + timedelta(seconds=3), "the missed tick to pass",
                 timeout=90)
        server.start()
        wait_for(lambda: any(r.scheduled_at == missed and r.status == "succeeded"
                             for r in store.runs("every_minute", limit=100)),
                 f"the missed tick {missed:%H:%M} to run", log=server.log)
        ticks = Counter(r.scheduled_at for r in store.runs("every_minute", limit=100))
        assert ticks[missed] == 1
        assert all(count == 1 for count in ticks.values()), ticks
    finally:
        server.stop()
