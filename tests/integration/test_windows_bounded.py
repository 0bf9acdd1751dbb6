"""window + aggregate in a bounded `dteg run`: the end of the run closes every window, and
the results equal a reference computed here (fixed, sliding and session windows)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

BASE = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)


def _events(n: int) -> list[dict]:
    rng = random.Random(11)
    return [{"id": i, "user": f"u{rng.randint(1, 6)}", "amount": rng.randint(1, 50),
             "at": (BASE + dt.timedelta(seconds=rng.uniform(0, 900))).isoformat()}
            for i in range(n)]


def _reference(events: list[dict], kind: str) -> dict[tuple[str, float, float], tuple[int, int]]:
    groups: dict[tuple[str, float, float], list[int]] = defaultdict(list)
    if kind == "session":
        by_user: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for e in events:
            t = (dt.datetime.fromisoformat(e["at"]) - BASE).total_seconds()
            by_user[e["user"]].append((t, e["amount"]))
        for user, rows in by_user.items():
            rows.sort()
            start, end, amounts = rows[0][0], rows[0][0] + 30, []
            for t, amount in rows:
                if t >= end:
                    groups[(user, start, end)] = amounts
                    start, amounts = t, []
                end = max(end, t + 30)
                amounts.append(amount)
            groups[(user, start, end)] = amounts
    else:
        size, every = (60, 60) if kind == "fixed" else (120, 30)
        for e in events:
            t = (dt.datetime.fromisoformat(e["at"]) - BASE).total_seconds()
            first = (t // every) * every
            start = first
            while start > t - size:
                groups[(e["user"], start, start + size)].append(e["amount"])
                start -= every
    return {k: (len(v), sum(v)) for k, v in groups.items()}


@pytest.mark.parametrize("kind,window", [
    ("fixed", "{type: fixed, size: 1m, event_time: at}"),
    ("sliding", "{type: sliding, size: 2m, every: 30s, event_time: at}"),
    ("session", "{type: session, gap: 30s, event_time: at}"),
])
def test_bounded_windows_match_a_reference(tmp_path: Path, run_pipeline, kind: str,
                                           window: str) -> None:
    events = _events(3000)
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events))
    pipeline = tmp_path / f"{kind}.yaml"
    pipeline.write_text(f"""
pipeline:
  name: windows_{kind}
  steps:
    - extract:
        type: jsonl
        config: {{path: events.jsonl, schema: {{at: timestamptz}}}}
    - window: {window}
    - aggregate:
        group_by: user
        metrics: {{n: count, total: sum(amount), mean: avg(amount)}}
    - load:
        type: jsonl
        config: {{path: out/{kind}.jsonl}}
""")
    code, report, out = run_pipeline(pipeline)
    assert code == 0, out
    rows = [json.loads(line) for line in (tmp_path / "out" / f"{kind}.jsonl").read_text()
            .splitlines()]
    got = {(r["user"],
            (dt.datetime.fromisoformat(r["window_start"]) - BASE).total_seconds(),
            (dt.datetime.fromisoformat(r["window_end"]) - BASE).total_seconds()):
           (r["n"], r["total"]) for r in rows}
    assert got == _reference(events, kind)
    assert all(abs(r["mean"] - r["total"] / r["n"]) < 1e-9 for r in rows)
    assert report["reconciles"] is None  # rows are grouped, not moved
    assert report["read"] == 3000


def test_aggregate_without_window_is_one_row_per_group(tmp_path: Path, run_pipeline) -> None:
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(e) for e in _events(500)))
    (tmp_path / "p.yaml").write_text("""
pipeline:
  name: totals
  steps:
    - extract: {type: jsonl, config: {path: e.jsonl}}
    - aggregate: {metrics: {n: count, biggest: max(amount), smallest: min(amount)}}
    - load: {type: jsonl, config: {path: out/t.jsonl}}
""")
    code, _report, out = run_pipeline(tmp_path / "p.yaml")
    assert code == 0, out
    (row,) = [json.loads(x) for x in (tmp_path / "out" / "t.jsonl").read_text().splitlines()]
    amounts = [e["amount"] for e in _events(500)]
    assert row == {"n": 500, "biggest": max(amounts), "smallest": min(amounts)}


@pytest.mark.parametrize("window", ["", "    - window: {type: fixed, size: 1m, event_time: at}\n"])
def test_aggregate_of_no_rows_replaces_with_an_empty_target_of_its_columns(
        tmp_path: Path, run_pipeline, window: str) -> None:
    import duckdb
    import pyarrow.parquet as pq

    (tmp_path / "rows.csv").write_text("user,amount,at\nu1,3,2026-11-26T00:00:10Z\n")
    (tmp_path / "none.csv").write_text("user,amount,at\n")
    for name in ("rows", "none"):
        (tmp_path / f"{name}.yaml").write_text(f"""
pipeline:
  name: agg_{name}
  steps:
    - extract:
        type: csv
        config: {{path: {name}.csv, schema: {{user: string, amount: int64, at: timestamptz}}}}
{window}    - aggregate: {{group_by: user, metrics: {{n: count, total: sum(amount)}}}}
    - load: {{type: parquet, config: {{path: out/t.parquet, mode: replace}}}}
    - load: {{type: duckdb, config: {{database: out/w.duckdb, table: t, mode: replace}}}}
""")
    code, _report, out = run_pipeline(tmp_path / "rows.yaml")
    assert code == 0, out
    before = pq.read_schema(tmp_path / "out" / "t.parquet")
    code, _report, out = run_pipeline(tmp_path / "none.yaml")
    assert code == 0, out
    table = pq.read_table(tmp_path / "out" / "t.parquet")
    assert table.num_rows == 0 and table.schema.equals(before, check_metadata=False)
    with duckdb.connect(str(tmp_path / "out" / "w.duckdb")) as con:
        assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
        assert [c[0] for c in con.execute("DESCRIBE t").fetchall()] == before.names
    assert "(0 rows)" in out
