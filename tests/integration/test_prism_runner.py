"""`--runner prism` / `--runner portable`: what a user sees when the binary or the job server
is missing, `dteg runners`, and `dteg backfill` on Prism (against the real PostgreSQL)."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.integration.prism_service import prism_binary, prism_job_server  # noqa: F401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_missing_prism_binary_says_how_to_build_it(
        workdir: Path, run_pipeline: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DTEG_PRISM_LOCATION", raising=False)
    monkeypatch.setenv("DTEG_CACHE_DIR", str(tmp_path / "empty-cache"))
    code, report, out = run_pipeline(workdir / "csv_to_parquet.yaml", "--runner", "prism")
    assert code == 2, out
    assert report is None
    assert "scripts/tools/prism" in out and "--prism-location" in out
    assert "Traceback" not in out
    assert not (workdir / "out" / "customers.parquet").exists()


def test_a_prism_location_that_is_no_binary_is_refused(workdir: Path, run_pipeline: Any,
                                                       tmp_path: Path) -> None:
    code, _, out = run_pipeline(workdir / "csv_to_parquet.yaml", "--runner", "prism",
                                "--prism-location", str(tmp_path / "nowhere" / "prism"))
    assert code == 2, out
    assert "--prism-location names" in out and "not an executable file" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("endpoint", [None, "localhost"])
def test_portable_needs_a_host_and_port(workdir: Path, run_pipeline: Any,
                                        endpoint: str | None) -> None:
    extra = ("--job-endpoint", endpoint) if endpoint else ()
    code, _, out = run_pipeline(workdir / "csv_to_parquet.yaml", "--runner", "portable", *extra)
    assert code == 2, out
    assert "--job-endpoint" in out and "HOST:PORT" in out
    assert "Traceback" not in out


def test_portable_without_a_job_server_fails_clearly(workdir: Path, run_pipeline: Any) -> None:
    port = _free_port()  # nothing listens there
    code, _, out = run_pipeline(workdir / "csv_to_parquet.yaml", "--runner", "portable",
                                "--job-endpoint", f"127.0.0.1:{port}")
    assert code == 1, out
    assert f"could not reach 127.0.0.1:{port}" in out
    assert "scripts/services/prism start" in out
    assert "Traceback" not in out
    assert not (workdir / "out" / "customers.parquet").exists()


def test_runners_lists_prism_and_portable(capsys: pytest.CaptureFixture[str],
                                          prism_binary: str,  # noqa: F811
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from dteg.cli import main

    monkeypatch.setenv("DTEG_PRISM_LOCATION", prism_binary)
    with pytest.raises(SystemExit) as exit_info:
        main(["runners"])
    out = capsys.readouterr().out
    assert exit_info.value.code in (0, None)
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "prism" in lines and prism_binary in lines["prism"]
    assert "portable" in lines and "--job-endpoint" in lines["portable"]


def test_backfill_runs_its_partitions_on_prism(pg: Any, tmp_path: Path,
                                               prism_binary: str,  # noqa: F811
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from dteg.cli import main

    pg.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text, created_at timestamp)")
    pg.execute("INSERT INTO events SELECT g, 'k' || (g % 5), timestamp '2024-01-01' + "
               "(g - 1) * interval '864 seconds' FROM generate_series(1, 300) g")
    path = tmp_path / "backfill_events.yaml"
    path.write_text("""
pipeline:
  name: backfill_events
  steps:
    - extract:
        name: events
        type: postgres
        config:
          url: ${env:DTEG_POSTGRES_URL}
          table: events
          incremental: {cursor: created_at}
    - load:
        type: postgres
        config: {url: '${env:DTEG_POSTGRES_URL}', table: events_copy, mode: append}
""")
    try:
        main(["backfill", str(path), "--start", "2024-01-01", "--end", "2024-01-04",
              "--step", "1d", "--runner", "prism", "--prism-location", prism_binary])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr()
    out = capsys.readouterr()
    assert "3 partition(s) run" in out.out, out
    # 100 rows a day: days 1-3 of the 300 rows, each once.
    copied = pg.execute("SELECT count(*), count(DISTINCT id), min(id), max(id) "
                        "FROM events_copy").fetchone()
    assert copied == (300, 300, 1, 300)
    con = sqlite3.connect(tmp_path / ".dteg" / "runs.sqlite")
    try:
        runners = con.execute("SELECT runner, count(*) FROM runs GROUP BY runner").fetchall()
    finally:
        con.close()
    assert runners == [("prism", 3)]
