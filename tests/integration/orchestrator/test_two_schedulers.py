"""Two `dteg server` processes on one store (and one folder): every tick of every pipeline
runs exactly once — while both run, and after one of them is killed with kill -9."""

from __future__ import annotations

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

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PIPELINE = """\
pipeline:
  name: {name}
  schedule: "* * * * *"
  steps:
    - extract: {{type: csv, config: {{path: in.csv}}}}
    - load: {{type: duckdb, config: {{database: out/{name}.duckdb, table: t, mode: replace}}}}
"""
NAMES = ("one", "two", "three")


def test_two_servers_never_double_or_skip_a_tick(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    (folder / "out").mkdir(parents=True)
    (folder / "in.csv").write_text("id,name\n1,ada\n")
    for name in NAMES:
        (folder / f"{name}.yaml").write_text(PIPELINE.format(name=name))
    first = ServerProcess(folder, tmp_path / "a.log", "--workers", "1", "--port", "0").start()
    second = ServerProcess(folder, tmp_path / "b.log", "--workers", "1", "--port", "0",
                           env={"DTEG_HEARTBEAT_TIMEOUT": "5s"}).start()
    try:
        store = wait_for(lambda: (folder / ".dteg" / "orchestrator.sqlite").exists()
                         and store_of(folder), "the store", log=first.log)
        wait_for(lambda: len(store.processes("scheduler")) == 2, "both schedulers",
                 log=second.log)
        started = utcnow()
        # Two ticks with both servers up.
        first_tick = (started + timedelta(minutes=1)).replace(second=0, microsecond=0)
        second_tick = first_tick + timedelta(minutes=1)

        def done(tick: object) -> bool:
            return all(any(r.scheduled_at == tick and r.status == "succeeded"
                           for r in store.runs(name, limit=50)) for name in NAMES)

        wait_for(lambda: done(first_tick), f"the {first_tick:%H:%M} runs", log=first.log)
        first.kill9()
        wait_for(lambda: done(second_tick), f"the {second_tick:%H:%M} runs after kill -9",
                 log=second.log)
        for name in NAMES:
            ticks = Counter(r.scheduled_at for r in store.runs(name, limit=50))
            assert all(count == 1 for count in ticks.values()), (name, ticks)
            assert {first_tick, second_tick} <= set(ticks)
    finally:
        first.stop()
        second.stop()
