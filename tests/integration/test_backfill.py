"""`dteg backfill`: partitions of the cursor range run in order, finished partitions are
recorded, and a run killed with SIGKILL resumes where it stopped."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import REPO
from tests.integration.databases import rows

pytestmark = pytest.mark.integration
PER_DAY = 2000


def _setup(pg, workdir: Path) -> Path:
    pg.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text, created_at timestamp)")
    pg.execute("INSERT INTO events SELECT g, 'k' || (g % 5), timestamp '2024-01-01' + "
               f"(g - 1) * interval '{86400 // PER_DAY} seconds' "
               f"FROM generate_series(1, {PER_DAY * 6}) g")
    path = workdir / "backfill_events.yaml"
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
          max_rows_per_second: 4000
    - load:
        type: postgres
        config: {url: '${env:DTEG_POSTGRES_URL}', table: events_copy, mode: append}
""")
    return path


def _backfill(path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dteg.cli", "backfill", str(path), "--start", "2024-01-01",
            "--end", "2024-01-07", "--step", "1d", *extra]


def _done(workdir: Path) -> int:
    db = workdir / ".dteg" / "state.sqlite"
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM state WHERE key LIKE 'backfill:%'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_backfill_resumes_after_kill_9(workdir, pg) -> None:
    path = _setup(pg, workdir)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(_backfill(path), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and _done(workdir) < 2:
        time.sleep(0.05)
    assert proc.poll() is None, f"backfill ended before it could be killed: {proc.stderr.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    finished = _done(workdir)
    assert 2 <= finished < 6
    copied = rows(pg, "SELECT count(*) FROM events_copy")[0][0]
    assert copied >= finished * PER_DAY  # a partition may have committed just before the kill

    again = subprocess.run(_backfill(path), env=env, text=True, capture_output=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("done earlier") >= finished
    assert "backfill finished" in again.stdout
    # Every row exactly once, although the sink appends: a partition killed after its commit
    # was recorded when the next run settled it, and one killed before it loaded nothing.
    assert rows(pg, "SELECT count(*), count(DISTINCT id) FROM events_copy") == [
        (PER_DAY * 6, PER_DAY * 6)]
    assert _done(workdir) == 6
    # The regular incremental cursor is not moved by a backfill.
    con = sqlite3.connect(workdir / ".dteg" / "state.sqlite")
    assert con.execute("SELECT count(*) FROM state WHERE key LIKE 'cursor:%'").fetchone() == (0,)
    # Running the same backfill again does nothing.
    third = subprocess.run(_backfill(path), env=env, text=True, capture_output=True,
                           timeout=300)
    assert third.returncode == 0 and "0 partition(s) run, 6 done earlier" in third.stdout


def test_backfill_needs_an_incremental_source(workdir, run_pipeline) -> None:
    from dteg.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["backfill", str(workdir / "quickstart.yaml"), "--start", "1", "--end", "5"])
    assert exc.value.code == 2
