"""The quality dashboard API on a history of 10,000 rule results per pipeline.

    PYTHONPATH=. .venv/bin/python bench/quality_dashboard_bench.py [--pipelines 3]
        [--runs 2500] [--rules 4] [--requests 100] [--pairs 3]

``.dteg/quality.sqlite`` is filled through ``QualityStore.record`` with ``--pipelines`` ×
``--runs`` runs of ``--rules`` rule results each (2,500 × 4 = 10,000 per pipeline). Then
``--pairs`` rounds of A B:

* A, dteg: ``GET /api/v1/quality/pipelines/{name}?limit=<runs>`` (the whole history: every
  rule result, with the volume anomalies computed) of a random pipeline, the same with the
  default page (newest 200 runs), and ``GET /api/v1/quality/summary``, through the real
  FastAPI app (Starlette's TestClient: routing, auth-off dependency, JSON encoding —
  in-process, no socket);
* B, the named baseline "raw sqlite3": the same SELECTs with Python's ``sqlite3`` on the same
  file, rows fetched as tuples, nothing else.

Printed per route: p50/p95 of each side (medians over the pairs) and the ratio A/B.
Target: p95 < 300 ms for A.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PIPELINE = """\
pipeline:
  name: NAME
  steps:
    - extract: {type: csv, config: {path: in.csv}}
    - load: {type: csv, config: {path: out/NAME.csv}}
"""


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fill(folder: Path, pipelines: int, runs: int, rules: int) -> list[str]:
    from dteg.governance.quality_store import QualityRun, QualityStore, RuleResult

    rng = random.Random(11)
    store = QualityStore.for_folder(folder)
    names = [f"quality_{i}" for i in range(pipelines)]
    for name in names:
        (folder / f"{name}.yaml").write_text(PIPELINE.replace("NAME", name))
        batch = []
        for r in range(runs):
            rows = 10_000 + rng.randint(-300, 300)
            dead = rng.randint(0, 40)
            batch.append(QualityRun(
                f"{name}-{r:06d}", name, f"2026-{1 + r // 2000:02d}-01T00:00:{r % 60:02d}"
                f".{r:06d}", "succeeded", rows, rows - dead, dead,
                [RuleResult("validate", f"rule_{k}", f"col_{k}", "fail" if k == 0 else "warn",
                            rows - (dead if k == 1 else 0), dead if k == 1 else 0)
                 for k in range(rules)]))
        store.record(batch)
    return names


def raw_history(db: sqlite3.Connection, name: str, limit: int) -> int:
    """The two SELECTs ``QualityStore.runs`` makes, rows as tuples."""
    newest = ("SELECT run_id FROM quality_runs WHERE pipeline = ? AND finished >= ? "
              "ORDER BY finished DESC, run_id DESC LIMIT ?")
    params = (name, "", limit)
    db.execute("SELECT run_id, pipeline, finished, status, rows_in, loaded, dead_lettered "
               f"FROM quality_runs WHERE run_id IN ({newest}) ORDER BY finished, run_id",
               params).fetchall()
    return len(db.execute("SELECT run_id, step, rule, column_name, severity, passed, failed "
                          f"FROM rule_results WHERE run_id IN ({newest}) ORDER BY rowid",
                          params).fetchall())


def raw_summary(db: sqlite3.Connection, names: list[str]) -> int:
    return sum(raw_history(db, name, 50) for name in names)


def timed(call: Callable[[], object], requests: int) -> list[float]:
    out = []
    for _ in range(requests):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=3)
    parser.add_argument("--runs", type=int, default=2500)
    parser.add_argument("--rules", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from dteg.orchestrator.catalog import Catalog
    from dteg.orchestrator.store.store import Store
    from dteg.server.app import create_app
    from dteg.server.context import ServerContext

    with tempfile.TemporaryDirectory(prefix="quality-bench-") as tmp:
        folder = Path(tmp) / "pipelines"
        folder.mkdir()
        started = time.monotonic()
        names = fill(folder, args.pipelines, args.runs, args.rules)
        print(f"quality history: {args.pipelines} pipelines × {args.runs:,} runs × "
              f"{args.rules} rules = {args.runs * args.rules:,} rule results per pipeline, "
              f"filled in {time.monotonic() - started:.0f}s")
        ctx = ServerContext(store=Store.open(f"sqlite:///{Path(tmp) / 'orch.sqlite'}"),
                            catalog=Catalog(folder))
        ctx.current_catalog(force=True)
        client = TestClient(create_app(ctx))
        db = sqlite3.connect(folder / ".dteg" / "quality.sqlite")
        rng = random.Random(7)

        # What the answers hold, checked once outside the timing (the timed requests read
        # the body's bytes, not parse them: decoding is the client's cost, not the API's).
        full = client.get(f"/api/v1/quality/pipelines/{names[0]}", params={"limit": args.runs})
        assert sum(len(r["rules"]) for r in full.json()["runs"]) == args.runs * args.rules
        assert len(client.get("/api/v1/quality/summary").json()["pipelines"]) == len(names)

        def get(path: str, **params: object) -> Callable[[], object]:
            def call() -> object:
                answer = client.get(path.replace("{name}", rng.choice(names)), params=params)
                assert answer.status_code == 200, answer.text
                return answer.content
            return call

        cases = {
            f"GET /quality/pipelines/{{name}}?limit={args.runs} (every result)": (
                get("/api/v1/quality/pipelines/{name}", limit=args.runs),
                lambda: raw_history(db, rng.choice(names), args.runs)),
            "GET /quality/pipelines/{name} (default page: newest 200 runs)": (
                get("/api/v1/quality/pipelines/{name}"),
                lambda: raw_history(db, rng.choice(names), 200)),
            "GET /quality/summary": (get("/api/v1/quality/summary"),
                                     lambda: raw_summary(db, names)),
        }
        ok = True
        for label, (a_call, b_call) in cases.items():
            a50, a95, b50, b95 = [], [], [], []
            for _ in range(args.pairs):  # A B A B
                times = timed(a_call, args.requests)
                a50.append(_p(times, 0.5))
                a95.append(_p(times, 0.95))
                times = timed(b_call, args.requests)
                b50.append(_p(times, 0.5))
                b95.append(_p(times, 0.95))
            A50, A95 = statistics.median(a50), statistics.median(a95)
            B50, B95 = statistics.median(b50), statistics.median(b95)
            print(f"{label}:")
            print(f"  A dteg API:      p50 {A50 * 1e3:7.1f} ms, p95 {A95 * 1e3:7.1f} ms")
            print(f"  B raw sqlite3:   p50 {B50 * 1e3:7.1f} ms, p95 {B95 * 1e3:7.1f} ms")
            print(f"  ratio p95 A/B: {A95 / B95:.1f}×; target p95 < 300 ms: "
                  f"{'met' if A95 < 0.3 else 'MISSED'}")
            ok = ok and A95 < 0.3
        client.close()
        db.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
