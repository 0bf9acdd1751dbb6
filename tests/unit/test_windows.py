"""Event-time windows and aggregation (pure pyarrow), the stream checkpoint, and what makes a
pipeline streamable — no Beam, no broker."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError

from dteg.components.contracts import RunContext
from dteg.components.plan import StepPlan
from dteg.components.rundir import RunDir
from dteg.components.settings import write_mode
from dteg.spec.phases import compile_spec
from dteg.streaming import checks
from dteg.transforms import checkpoint
from dteg.transforms.aggregate import AggregateConfig, Aggregator
from dteg.transforms.window import WindowAssign, WindowConfig, parse_duration

BASE = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
S = 1_000_000


def _batch(seconds: list[float], keys: list[str | None] | None = None) -> pa.RecordBatch:
    times = [BASE + dt.timedelta(seconds=s) for s in seconds]
    return pa.RecordBatch.from_pydict({
        "at": pa.array(times, pa.timestamp("us", tz="UTC")),
        "k": keys or ["a"] * len(seconds),
        "amount": [float(i + 1) for i in range(len(seconds))],
    })


def _ctx(tmp_path: Path, checkpoint_dir: Path | None = None) -> RunContext:
    return RunContext(pipeline="p", step="window", base_dir=tmp_path, run_id="r",
                      plan=StepPlan(checkpoint_dir=checkpoint_dir))


def test_durations() -> None:
    assert parse_duration("1m") == 60 * S
    assert parse_duration("500ms") == 500_000
    assert parse_duration("1.5h") == 5400 * S
    assert parse_duration(30) == 30 * S
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_window_config_says_what_each_type_needs() -> None:
    with pytest.raises(ValidationError, match="needs `gap:`"):
        WindowConfig(type="session", event_time="at")
    with pytest.raises(ValidationError, match="needs `size:`"):
        WindowConfig(type="fixed", event_time="at")
    with pytest.raises(ValidationError, match="`every:` is for sliding"):
        WindowConfig(type="fixed", size="1m", every="30s", event_time="at")
    with pytest.raises(ValidationError, match="would leave rows in no window"):
        WindowConfig(type="sliding", size="1m", every="2m", event_time="at")


def test_fixed_sliding_and_session_assignment(tmp_path: Path) -> None:
    batch = _batch([0, 59.9, 60, 125])
    fixed = WindowAssign(WindowConfig(size="1m", event_time="at"), _ctx(tmp_path)).apply(batch)
    starts = [(s - BASE).total_seconds() for s in fixed.kept.column("window_start").to_pylist()]
    assert starts == [0, 0, 60, 120]
    sliding = WindowAssign(WindowConfig(type="sliding", size="2m", every="1m", event_time="at"),
                           _ctx(tmp_path)).apply(batch)
    pairs = [((r["at"] - BASE).total_seconds(), (r["window_start"] - BASE).total_seconds())
             for r in sliding.kept.to_pylist()]
    assert pairs == [(0, -60), (0, 0), (59.9, -60), (59.9, 0), (60, 0), (60, 60),
                     (125, 60), (125, 120)]
    session = WindowAssign(WindowConfig(type="session", gap="30s", event_time="at"),
                           _ctx(tmp_path)).apply(batch)
    ends = [(e - BASE).total_seconds() for e in session.kept.column("window_end").to_pylist()]
    assert ends == [30, 89.9, 90, 155]


def test_event_time_from_text_and_epoch_numbers(tmp_path: Path) -> None:
    text = pa.RecordBatch.from_pydict({"at": ["2026-11-26T00:00:30Z", "nope", None]})
    result = WindowAssign(WindowConfig(size="1m", event_time="at"), _ctx(tmp_path)).apply(text)
    assert result.kept.num_rows == 1
    assert [r["reason"] for r in result.rejected.to_pylist()] == [
        "column `at`: 'nope' is not a timestamp", "column `at`: no event time"]
    epoch = pa.RecordBatch.from_pydict({"at": [int(BASE.timestamp() * 1000) + 90_000]})
    result = WindowAssign(WindowConfig(size="1m", event_time="at"), _ctx(tmp_path)).apply(epoch)
    assert result.kept.column("window_start").to_pylist() == [BASE + dt.timedelta(minutes=1)]


def test_late_rows_are_dead_lettered_against_the_checkpoint_watermark(tmp_path: Path) -> None:
    folder = tmp_path / "stream"
    checkpoint.write_json(folder / checkpoint.MANIFEST, {
        "seq": 1, "watermarks": {"window": int((BASE.timestamp() + 120) * S)},
        "max_event": {}, "state_files": {}, "offsets": {}})
    stage = WindowAssign(WindowConfig(size="1m", event_time="at"),
                         _ctx(tmp_path, folder))
    stage.setup()
    result = stage.apply(_batch([10, 70, 119.9, 120, 200]))
    kept = [(r["at"] - BASE).total_seconds() for r in result.kept.to_pylist()]
    assert kept == [120, 200]
    dead = result.rejected.to_pylist()
    assert [d["reason"] for d in dead] == ["late"] * 3
    assert dead[0]["rule"] == "watermark 2026-11-26T00:02:00+00:00"
    assert dead[0]["column"] == "at"
    # Sliding: a row still in an open window counts there and is not late.
    sliding = WindowAssign(WindowConfig(type="sliding", size="2m", every="1m", event_time="at"),
                           _ctx(tmp_path, folder))
    sliding.setup()
    result = sliding.apply(_batch([70]))
    assert result.rejected is None
    assert result.kept.num_rows == 1  # only [60, 180) is still open


def _reference(seconds: list[float], keys: list[str], size: int) -> dict[tuple[float, str], int]:
    counts: dict[tuple[float, str], int] = defaultdict(int)
    for s, k in zip(seconds, keys, strict=True):
        counts[(s // size * size, k)] += 1
    return dict(counts)


def test_partials_merge_to_the_same_result_in_any_split(tmp_path: Path) -> None:
    rng = random.Random(7)
    seconds = [rng.uniform(0, 600) for _ in range(2000)]
    keys = [rng.choice(["kr", "jp", None]) for _ in seconds]
    window = WindowConfig(size="1m", event_time="at")
    aggregator = Aggregator(AggregateConfig(group_by="k", metrics={"n": "count",
                                                                   "s": "sum(amount)"}),
                            window, "aggregate")
    assigned = WindowAssign(window, _ctx(tmp_path)).apply(_batch(seconds, keys)).kept
    whole = aggregator.output(aggregator.merge([aggregator.partial(assigned)]))
    pieces = [aggregator.partial(assigned.slice(i, 137)) for i in range(0, 2000, 137)]
    # Merge in two rounds, as a stream does across micro-batches.
    merged = aggregator.merge([aggregator.merge(pieces[:5]), *pieces[5:]])
    assert aggregator.output(merged).to_pylist() == whole.to_pylist()
    got = {((r["window_start"] - BASE).total_seconds(), r["k"]): r["n"]
           for r in whole.to_pylist()}
    assert got == _reference(seconds, keys, 60)


def test_sessions_merge_across_batches(tmp_path: Path) -> None:
    window = WindowConfig(type="session", gap="10s", event_time="at")
    aggregator = Aggregator(AggregateConfig(group_by="k", metrics={"n": "count"}), window, "a")
    stage = WindowAssign(window, _ctx(tmp_path))
    first = aggregator.partial(stage.apply(_batch([0, 5, 30], ["a", "a", "a"])).kept)
    # [12, 22) overlaps [0, 15) and [21, 31) overlaps both it and [30, 40): one session.
    second = aggregator.partial(stage.apply(_batch([12, 21, 100], ["a", "a", "b"])).kept)
    out = aggregator.output(aggregator.merge([first, second])).to_pylist()
    spans = [(r["k"], (r["window_start"] - BASE).total_seconds(),
              (r["window_end"] - BASE).total_seconds(), r["n"]) for r in out]
    assert spans == [("a", 0, 40, 5), ("b", 100, 110, 1)]
    closed, still_open = aggregator.split(aggregator.merge([first, second]),
                                          int((BASE.timestamp() + 50) * S))
    assert closed.num_rows == 1 and still_open.num_rows == 1


def test_metrics_parse_and_refuse() -> None:
    config = AggregateConfig(metrics={"n": "count", "m": "COUNT(x)", "a": "avg(x)",
                                      "lo": "min(x)", "all": "count(*)"})
    assert [(m.func, m.column) for m in config.parsed()] == [
        ("count", None), ("count", "x"), ("avg", "x"), ("min", "x"), ("count", None)]
    with pytest.raises(ValidationError, match="needs a column"):
        AggregateConfig(metrics={"s": "sum"})
    with pytest.raises(ValidationError, match="is not count"):
        AggregateConfig(metrics={"s": "median(x)"})


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    folder, pending = tmp_path / "stream", tmp_path / "pending"
    table = pa.table({"x": [1, 2]})
    checkpoint.write_table(pending / "aggregate.arrow", table)
    checkpoint.write_json(pending / "aggregate.json",
                          {"window_step": "window", "watermark": 5, "max_event": 9})
    saved = checkpoint.save(folder, checkpoint.load(folder), pending, {"extract": {"t/0": 10}})
    again = checkpoint.load(folder)
    assert again == saved and again.seq == 1
    assert again.watermarks == {"window": 5} and again.offsets == {"extract": {"t/0": 10}}
    assert checkpoint.read_state(folder, again, "aggregate").equals(table)
    # The next checkpoint without open windows drops the old state file.
    empty = tmp_path / "empty"
    checkpoint.write_json(empty / "aggregate.json",
                          {"window_step": "window", "watermark": 7, "max_event": 9})
    later = checkpoint.save(folder, again, empty, {})
    assert later.state_files == {} and not list(folder.glob("state-*.arrow"))


STREAMABLE = """
pipeline:
  name: s
  steps:
    - extract: {type: kafka, config: {bootstrap_servers: "k:1", topic: t}}
    - window: {type: sliding, size: 1m, every: 30s, event_time: at}
    - aggregate: {metrics: {n: count}}
    - load: {type: duckdb, config: {table: t, mode: merge, key: [window_start]}}
"""


def test_window_type_is_its_config_and_the_pipeline_streams(tmp_path: Path) -> None:
    spec = compile_spec(tmp_path / "s.yaml", text=STREAMABLE)
    window = spec.step("window")
    assert window.component == "window" and window.config["type"] == "sliding"
    assert checks.problems(spec) == []


def test_what_cannot_stream_is_listed_with_lines(tmp_path: Path) -> None:
    spec = compile_spec(tmp_path / "s.yaml", text="""
pipeline:
  name: s
  steps:
    - extract: {type: csv, config: {path: a.csv}}
    - window: {type: fixed, size: 1m, event_time: at}
    - load: {type: parquet, config: {path: out/x.parquet}}
    - aggregate: {input: extract, metrics: {n: count}}
    - load: {type: duckdb, config: {table: t, mode: replace}}
""")
    found = "\n".join(checks.problems(spec))
    assert "step `extract` (" in found and "`csv` is a bounded source" in found
    assert "step `load_1`" in found and "`mode: replace` would replace" in found
    assert "must feed an `aggregate` step" in found
    assert "an aggregate without a window never ends" in found
    assert "s.yaml:" in found


def test_stream_plan_gives_sources_the_plan_file_and_stateful_steps_their_folders(
        tmp_path: Path) -> None:
    spec = compile_spec(tmp_path / "s.yaml", text=STREAMABLE)
    folder = tmp_path / ".dteg" / "streams" / "s"
    streamed, plan = checks.stream_spec(spec, "stream-1", folder=folder)
    run_dir = RunDir.of(spec.state_dir, "stream-1")
    assert plan.run_id == "stream-1"
    assert plan.for_step("extract") == StepPlan(offset_ranges_file=folder / "plan.json",
                                                timestamps_dir=run_dir.timestamps_dir)
    for name in ("window", "aggregate"):
        assert plan.for_step(name) == StepPlan(
            checkpoint_dir=folder, pending_state_dir=run_dir.pending_checkpoint_dir)
    assert plan.for_step("load") == StepPlan()
    dead = streamed.dead_letter_sink()
    assert dead is not None and dead.config == {
        "path": f".dteg/dead_letter/{spec.name}/", "mode": "append"}
    assert write_mode(dead.settings) == "append"
    # the spec it was given is left alone
    assert spec.dead_letter_sink().config["path"].endswith("{run_id}.jsonl")


def test_a_dead_letter_sink_that_replaces_cannot_stream(tmp_path: Path) -> None:
    spec = compile_spec(tmp_path / "s.yaml", text=STREAMABLE.replace(
        "  steps:", "  dead_letter: {type: jsonl, config: {path: dl.jsonl, mode: replace}}\n"
        "  steps:"))
    assert any("`dead_letter` with `mode: replace`" in p for p in checks.problems(spec))
