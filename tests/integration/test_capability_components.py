"""A component from outside dteg, registered through a real entry point, is treated exactly
like a built-in with the same capabilities: a source that declares an offset planner runs
under `dteg stream`, reads what its planner planned, and the next stream reads on from the
offsets committed by the one before.

The plugin is a tiny distribution written on the fly (a ``*.dist-info`` folder with
``entry_points.txt`` next to its module) and put on ``sys.path`` of a `dteg` subprocess, so
``importlib.metadata`` finds it the way it finds an installed package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = '''
"""counter_stream: a "topic" that is a JSON-lines file; offsets are line numbers, and the
committed offset lives in a file next to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.capabilities import Capabilities
from pydantic import BaseModel

from dteg.components.contracts import BatchReader, LoadedTarget, PostLoadOutcome, PostLoadStep
from dteg.components.registry import ComponentInfo
from dteg.components.settings import SourceSettings

PARTITION = ("counter", 0)


class CounterSettings(SourceSettings):
    log: str
    committed: str
    max_records: int = 1000


def _lines(path: str) -> list[str]:
    return [line for line in Path(path).read_text().splitlines() if line.strip()]


@dataclass
class CounterPlan:
    ranges: list[list[Any]]
    high: dict[tuple[str, int], int] = field(default_factory=dict)
    finished: bool = False

    @property
    def records(self) -> int:
        return sum(end - start for _, _, start, end in self.ranges)

    def ends(self) -> dict[tuple[str, int], int]:
        return {(t, p): end for t, p, _, end in self.ranges}

    def ranges_json(self) -> list[Any]:
        return [list(r) for r in self.ranges]


class CounterPlanner:
    def __init__(self, settings: CounterSettings, *, pipeline: str, step: str) -> None:
        self.settings = settings
        self.positions: dict[tuple[str, int], int] = {}
        self.until: int | None = None

    @property
    def batch_records(self) -> int:
        return self.settings.max_records

    @property
    def batch_seconds(self) -> float:
        return 0.0

    def connect(self) -> None:
        path = Path(self.settings.committed)
        self.positions = {PARTITION: json.loads(path.read_text()) if path.exists() else 0}

    def resolve_until(self, *, bounded: bool) -> None:
        self.until = len(_lines(self.settings.log)) if bounded else None

    def plan(self, budget: int | None) -> CounterPlan:
        end = len(_lines(self.settings.log))
        limit = end if self.until is None else min(end, self.until)
        start = self.positions[PARTITION]
        stop = limit if budget is None else min(limit, start + budget)
        ranges = [[*PARTITION, start, stop]] if stop > start else []
        return CounterPlan(ranges, {PARTITION: end},
                           self.until is not None and start >= self.until)

    def override_positions(self, positions: dict[tuple[str, int], int]) -> None:
        self.positions.update(positions)

    def advance(self, ends: dict[tuple[str, int], int]) -> None:
        for tp, end in ends.items():
            self.positions[tp] = max(self.positions.get(tp, 0), end)

    def commit(self, plan: CounterPlan) -> None:
        self.commit_positions(plan.ends())

    def commit_positions(self, ends: dict[tuple[str, int], int]) -> None:
        if PARTITION in ends:
            Path(self.settings.committed).write_text(json.dumps(ends[PARTITION]))

    def lag(self, high: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        return {tp: max(h - self.positions.get(tp, 0), 0) for tp, h in high.items()}

    def close(self) -> None:
        pass


def create_planner(settings: CounterSettings, *, pipeline: str, step: str) -> CounterPlanner:
    return CounterPlanner(settings, pipeline=pipeline, step=step)


class CounterReader(BatchReader):
    def __init__(self, settings: CounterSettings, ctx: Any) -> None:
        self.settings = settings
        self.ctx = ctx

    def splits(self) -> list[Any]:
        plan = self.ctx.plan
        if plan.offset_ranges is not None:
            return [list(r) for r in plan.offset_ranges]
        if plan.offset_ranges_file is not None:
            planned = json.loads(Path(plan.offset_ranges_file).read_text())
            return planned.get(self.ctx.step, [])
        raise AssertionError("counter_stream reads only what its planner planned")

    def read(self, split: Any):
        _, _, start, end = split
        rows = [json.loads(line) for line in _lines(self.settings.log)[start:end]]
        yield pa.RecordBatch.from_pylist(rows, schema=pa.schema([("n", pa.int64())]))


def create_reader(settings: CounterSettings, ctx: Any) -> CounterReader:
    return CounterReader(settings, ctx)


class AuditSettings(BaseModel):
    report: str


class Audit(PostLoadStep):
    """Writes which loads it followed and the rows those loads hold (a post-load step)."""

    def __init__(self, settings: AuditSettings, ctx: Any) -> None:
        self.settings = settings
        self.ctx = ctx

    def run(self, loads: list[LoadedTarget]) -> PostLoadOutcome:
        found = {}
        for load in loads:
            files = sorted(Path(self.ctx.base_dir, "out").glob("*.jsonl"))
            found[load.step] = sum(len(f.read_text().splitlines()) for f in files)
        Path(self.ctx.resolve_path(self.settings.report)).write_text(json.dumps(found))
        return PostLoadOutcome(self.ctx.step)


def create_audit(settings: AuditSettings, ctx: Any) -> Audit:
    return Audit(settings, ctx)


AUDIT = ComponentInfo(
    "audit", "transform", "counter_plugin:AuditSettings", "counter_plugin:create_audit",
    "Counts what the loads it follows hold (test plugin)",
    capabilities=Capabilities(role="post_load"))

COMPONENT = ComponentInfo(
    "counter_stream", "source", "counter_plugin:CounterSettings",
    "counter_plugin:create_reader", "A JSON-lines log read by line offsets (test plugin)",
    capabilities=Capabilities(offset_planner="counter_plugin:create_planner"))
'''

PIPELINE = """
pipeline:
  name: counted
  steps:
    - extract: {type: counter_stream, config: {log: log.jsonl, committed: committed.json,
                                               max_records: 4}}
    - load: {type: jsonl, config: {path: out/, mode: append}}
"""


def _plugin(root: Path) -> Path:
    site = root / "site"
    (site / "counter_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "counter_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: counter-plugin\nVersion: 0.1\n")
    (site / "counter_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[dteg.sources]\ncounter_stream = counter_plugin:COMPONENT\n"
        "[dteg.transforms]\naudit = counter_plugin:AUDIT\n")
    (site / "counter_plugin.py").write_text(PLUGIN)
    return site


def _dteg(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-m", "dteg.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _landed(folder: Path) -> list[int]:
    return sorted(json.loads(line)["n"] for part in folder.glob("*.jsonl")
                  for line in part.read_text().splitlines() if line.strip())


def test_a_plugin_source_with_an_offset_planner_streams_and_reads_on(tmp_path: Path) -> None:
    site = _plugin(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "log.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(10)))
    (work / "pipeline.yaml").write_text(PIPELINE)

    listed = _dteg(site, work, "connectors", "list")
    assert "counter_stream" in listed.stdout

    # 6 records: a full micro-batch of the source's own budget (4), then the 2 left.
    _dteg(site, work, "stream", "pipeline.yaml", "--max-records", "6",
          "--report-json", "first.json", "-q")
    first = json.loads((work / "first.json").read_text())
    assert first["micro_batches"] == 2 and first["read"] == 6 and first["loaded"] == 6
    assert json.loads((work / "committed.json").read_text()) == 6
    assert _landed(work / "out") == list(range(6))

    # The next stream reads on from the committed offset: every record lands exactly once.
    _dteg(site, work, "stream", "pipeline.yaml", "--max-records", "4",
          "--report-json", "second.json", "-q")
    second = json.loads((work / "second.json").read_text())
    assert second["micro_batches"] == 1 and second["read"] == 4
    assert second["offsets"] == {"extract": {"counter/0": 10}}
    assert json.loads((work / "committed.json").read_text()) == 10
    assert _landed(work / "out") == list(range(10))
    # Nothing of the streams is left behind but their checkpoint folder.
    assert not (work / ".dteg" / "streams" / "counted" / "pending.json").exists()
    assert not list((work / ".dteg" / "runs").glob("stream-*"))


BOUNDED = """
pipeline:
  name: audited
  steps:
    - extract: {type: counter_stream, config: {log: log.jsonl, committed: committed.json}}
    - load: {name: lake, type: jsonl, config: {path: out/, mode: append}}
    - transform: {name: audit_lake, type: audit, config: {report: audit.json}}
"""


def test_plugin_source_in_a_bounded_run_and_a_post_load_step_after_the_load(
        tmp_path: Path) -> None:
    site = _plugin(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "log.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(7)))
    (work / "pipeline.yaml").write_text(BOUNDED)

    # Planned like any source with an offset planner: a bounded run reads to the end now.
    plan = _dteg(site, work, "plan", "pipeline.yaml", "--format", "json")
    steps = {s["name"]: s for s in json.loads(plan.stdout)["steps"]}
    assert steps["audit_lake"]["inputs"] == ["lake"]  # a post-load step follows the load

    _dteg(site, work, "run", "pipeline.yaml", "--report-json", "run.json", "-q")
    report = json.loads((work / "run.json").read_text())
    assert report["read"] == 7 and report["loaded"] == 7
    # The post-load step ran after the load committed and saw every row.
    assert json.loads((work / "audit.json").read_text()) == {"lake": 7}
    # The offsets were committed after the sinks: the next run reads on, and finds nothing.
    assert json.loads((work / "committed.json").read_text()) == 7
    with (work / "log.jsonl").open("a") as log:
        log.write(json.dumps({"n": 7}) + "\n")
    _dteg(site, work, "run", "pipeline.yaml", "--report-json", "again.json", "-q")
    assert json.loads((work / "again.json").read_text())["read"] == 1
    assert _landed(work / "out") == list(range(8))
