"""The web UI in a real browser: the run page's first contentful paint, and how long a log
line takes from the worker to the page, on `dteg server` with 100,000 runs in the store.

    PYTHONPATH=. .venv/bin/python bench/ui_bench.py [--runs 100000] [--pairs 3] [--loads 8]
        [--lag-seconds 15] [--rate 10] [--web web] [--ui dteg/server/ui] [--keep]

Needs Debian's ``chromium`` on PATH, ``node`` and ``playwright-core`` in ``--web``'s
node_modules (``cd web && npm ci``), and the built UI (``scripts/build_ui``). The store is
bench/api_bench.py's (cached in ``bench/data/``); the server is ``dteg server`` on it with
``DTEG_UI_DIR`` = a scratch copy of ``--ui`` plus one plain HTML file (the baseline).
Chromium runs through ``bench/ui_bench.mjs`` (headless, ``--no-sandbox``), like
tests/browser.

``--pairs`` rounds of A B, each of two measurements:

* First contentful paint. A: the page of a finished run (``/run/?id=…``, the newest
  succeeded run of a busy pipeline), ``--loads`` times, each in a fresh browser context (a
  cold cache, as a first visit): ``performance.getEntriesByName('first-contentful-paint')``,
  and when the run's data is on the page (``[data-testid=run-page]`` added to the DOM, by a
  MutationObserver), both from the navigation's start. B, the floor: a static HTML page of
  the same size class (a heading and a paragraph, no script) from the same server.
* Live log lag. For one of the store's running runs, this script writes ``--rate`` lines a
  second for ``--lag-seconds`` through ``dteg.orchestrator.logs.LogCapture`` (the worker's
  own capture: flushed to the store every 0.25 s), each line carrying ``time.time()`` at
  ``add``. A: the run's page is open; a MutationObserver notes ``Date.now()`` when each line's
  element is added. B: a plain SSE client (httpx) reads ``/api/v1/runs/{id}/events`` and
  notes when each ``log`` event arrives. Lag = shown − written (one machine, one clock).

Targets: run page first contentful paint < 1.5 s (p95 of the loads), live log lag p99 < 1 s.
Exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_bench  # bench/ is not a package: its own folder is on sys.path

REPO = api_bench.REPO
OUT_DIR = api_bench.OUT_DIR
DRIVER = Path(__file__).with_name("ui_bench.mjs")
FCP_TARGET_MS = 1500.0
LAG_TARGET_S = 1.0
PLAIN = """<!doctype html><html><head><meta charset="utf-8"><title>plain</title></head>
<body><h1>dteg</h1><p>A static page: what chromium needs to paint anything.</p></body></html>
"""
LINE = re.compile(r"ui-bench w(\d+) n(\d+) at=([0-9.]+)")


def percentile(values: list[float], q: float) -> float:
    return api_bench.percentile(values, q)


def node_json(mode: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    done = subprocess.run(["node", str(DRIVER), mode, json.dumps(args)], capture_output=True,
                          text=True, timeout=900, cwd=args["web"])
    out = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    errors = [o["error"] for o in out if "error" in o]
    if done.returncode != 0 or errors:
        raise SystemExit(f"ui_bench.mjs {mode} failed ({done.returncode}): {errors}\n"
                         f"{done.stderr[-2000:]}")
    return out


def fcp_round(base: dict[str, Any], url: str, loads: int, ready: str | None
              ) -> list[dict[str, Any]]:
    return node_json("fcp", dict(base, urls=[url] * loads, ready=ready))


def write_lines(store: Any, run_id: str, window: int, seconds: float, rate: float,
                end: str) -> int:
    """Lines through the worker's LogCapture; returns how many. (Nothing may print while the
    capture holds sys.stdout.)"""
    from dteg.orchestrator.logs import LogCapture

    count = int(seconds * rate)
    with LogCapture(store, run_id, 1) as capture:
        start = time.time()
        for n in range(count):
            wake = start + n / rate
            time.sleep(max(0.0, wake - time.time()))
            capture.add(f"ui-bench w{window} n{n} at={time.time():.6f} step `load`: rows so far")
        time.sleep(0.3)
        capture.add(f"ui-bench w{window} n{count} at={time.time():.6f} {end}")
    return count + 1


def lags_of(shown: list[tuple[float, str]], window: int) -> list[float]:
    """Seconds from written to shown, one per line of ``window`` (first sighting)."""
    first: dict[int, float] = {}
    for at, text in shown:
        match = LINE.search(text)
        if match and int(match.group(1)) == window:
            n, written = int(match.group(2)), float(match.group(3))
            first.setdefault(n, at - written)
    return list(first.values())


def browser_lag(base: dict[str, Any], url: str, store: Any, run_id: str, window: int,
                seconds: float, rate: float) -> tuple[list[float], int]:
    end = f"bench-end-{window}"
    proc = subprocess.Popen(["node", str(DRIVER), "lag", json.dumps(dict(base, url=url,
                                                                         end=end))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=base["web"])
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline() or '{"error": "no output"}')
    if not first.get("ready"):
        proc.kill()
        raise SystemExit(f"the run page did not go live: {first} {proc.stderr.read()[-2000:]}")
    written = write_lines(store, run_id, window, seconds, rate, end)
    out, err = proc.communicate(timeout=300)
    result = json.loads(out.strip().splitlines()[-1])
    if "shown" not in result:
        raise SystemExit(f"ui_bench.mjs lag: {result} {err[-2000:]}")
    shown = [(at / 1000.0, text) for at, text in result["shown"]]
    return lags_of(shown, window), written


def sse_lag(server_base: str, store: Any, run_id: str, window: int, seconds: float,
            rate: float, after: int) -> tuple[list[float], int]:
    import httpx

    end = f"bench-end-{window}"
    shown: list[tuple[float, str]] = []
    live = threading.Event()

    def read() -> None:
        url = f"{server_base}/api/v1/runs/{run_id}/events"
        with httpx.stream("GET", url, params={"after": after}, timeout=None) as response:
            kind = ""
            for line in response.iter_lines():
                live.set()
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "log":
                    message = json.loads(line[6:])["message"]
                    shown.append((time.time(), message))
                    if end in message:
                        return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    live.wait(30)
    written = write_lines(store, run_id, window, seconds, rate, end)
    reader.join(60)
    return lags_of(shown, window), written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--days", type=int, default=89)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--loads", type=int, default=8, help="page loads per round")
    parser.add_argument("--lag-seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=10.0, help="log lines a second")
    parser.add_argument("--web", type=Path, default=REPO / "web")
    parser.add_argument("--ui", type=Path, default=REPO / "dteg" / "server" / "ui")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    chromium = shutil.which("chromium")
    problems = [text for ok, text in (
        (chromium is not None, "no `chromium` on PATH (scripts/tools/chromium)"),
        (shutil.which("node") is not None, "no `node` on PATH (Node.js >= 20)"),
        ((args.web / "node_modules" / "playwright-core").is_dir(),
         f"{args.web}/node_modules has no playwright-core (cd web && npm ci, or --web)"),
        ((args.ui / "index.html").is_file(),
         f"{args.ui} has no index.html (scripts/build_ui, or --ui)")) if not ok]
    if problems:
        raise SystemExit("cannot run: " + "; ".join(problems))

    folder = OUT_DIR / f"ui-{os.getpid()}"
    names = api_bench.pipeline_names(args.pipelines)
    shas = api_bench.write_pipelines(folder / "pipelines", names)
    path, plan = api_bench.ensure_store(args.runs, names, shas, args.days)
    ui = folder / "ui"
    shutil.copytree(args.ui, ui)
    (ui / "bench-plain.html").write_text(PLAIN)
    url = f"sqlite:///{path}"
    with sqlite3.connect(path) as db:
        run_id = db.execute("SELECT id FROM dteg_runs WHERE pipeline = ? AND status = "
                            "'succeeded' ORDER BY created_at DESC LIMIT 1",
                            (names[1],)).fetchone()[0]
        live_id = db.execute("SELECT id FROM dteg_runs WHERE status = 'running' "
                             "ORDER BY created_at DESC LIMIT 1").fetchone()[0]
        db.execute("DELETE FROM dteg_log_lines WHERE run_id = ?", (live_id,))
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, at {head}: {plan.runs:,} runs in the store; "
          f"run page of {run_id}, live log of {live_id}; {args.pairs} pairs × {args.loads} "
          f"loads, {args.lag_seconds:.0f} s × {args.rate:.0f} lines/s; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)

    from dteg.orchestrator.store.store import Store

    workers = api_bench.Workers(url)
    store = Store.open(url)
    server = api_bench.Server(folder / "pipelines", path, folder / "server.log",
                              env={"DTEG_UI_DIR": str(ui)})
    node_args = dict(web=str(args.web.resolve()), chromium=chromium)
    run_page = f"{server.base}/run/?id={run_id}"
    plain = f"{server.base}/bench-plain.html"
    results: dict[str, list[Any]] = {k: [] for k in (
        "fcp", "ready", "plain", "lag_browser", "lag_sse")}
    counts = {"browser": [0, 0], "sse": [0, 0]}
    window = 0
    try:
        print(f"dteg server ready in {server.wait_ready():.1f} s", flush=True)
        time.sleep(3)
        fcp_round(node_args, run_page, 1, '[data-testid="run-page"]')  # warm-up
        fcp_round(node_args, plain, 1, None)
        for pair in range(args.pairs):
            loads = fcp_round(node_args, run_page, args.loads, '[data-testid="run-page"]')
            results["fcp"].append([r["fcp"] for r in loads])
            results["ready"].append([r["ready"] for r in loads])
            results["plain"].append([r["fcp"] for r in fcp_round(node_args, plain, args.loads,
                                                                 None)])
            window += 1
            lags, written = browser_lag(node_args, f"{server.base}/run/?id={live_id}", store,
                                        live_id, window, args.lag_seconds, args.rate)
            results["lag_browser"].append(lags)
            counts["browser"][0] += len(lags)
            counts["browser"][1] += written
            with sqlite3.connect(path) as db:
                after = db.execute("SELECT max(id) FROM dteg_log_lines").fetchone()[0] or 0
            window += 1
            lags, written = sse_lag(server.base, store, live_id, window, args.lag_seconds,
                                    args.rate, after)
            results["lag_sse"].append(lags)
            counts["sse"][0] += len(lags)
            counts["sse"][1] += written
            print(f"  pair {pair + 1}/{args.pairs}: run page FCP median "
                  f"{statistics.median(results['fcp'][-1]):.0f} ms, plain "
                  f"{statistics.median(results['plain'][-1]):.0f} ms; log lag p99 browser "
                  f"{percentile(results['lag_browser'][-1], 99):.3f} s, SSE "
                  f"{percentile(results['lag_sse'][-1], 99):.3f} s; load "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
    finally:
        server.stop()
        workers.stop()
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM dteg_log_lines WHERE run_id = ?", (live_id,))
        store.close()

    def med(key: str, q: float, scale: float = 1.0) -> float:
        return statistics.median(percentile(r, q) for r in results[key]) * scale

    print(f"\nmedians over {args.pairs} pairs of each round's percentiles\n")
    print("| measure | p50 | p95 | p99 | baseline | baseline p50 | p95 | p99 | ratio p50 | p95 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = [("run page first contentful paint, ms", "fcp", "plain HTML page FCP", "plain", 1),
            ("run page: its data in the DOM, ms", "ready", "plain HTML page FCP", "plain", 1),
            ("live log lag, browser, ms", "lag_browser", "plain SSE client", "lag_sse", 1000)]
    for label, key, base_label, base_key, scale in rows:
        a = [med(key, q, scale) for q in (50, 95, 99)]
        b = [med(base_key, q, scale) for q in (50, 95, 99)]
        print(f"| {label} | {a[0]:.0f} | {a[1]:.0f} | {a[2]:.0f} | {base_label} | {b[0]:.0f} | "
              f"{b[1]:.0f} | {b[2]:.0f} | {a[0] / b[0]:.2f}× | {a[1] / b[1]:.2f}× |")
    print(f"\nlines seen / written: browser {counts['browser'][0]}/{counts['browser'][1]}, "
          f"SSE {counts['sse'][0]}/{counts['sse'][1]}")
    fcp95 = med("fcp", 95)
    lag99 = med("lag_browser", 99)
    failed = fcp95 >= FCP_TARGET_MS or lag99 >= LAG_TARGET_S
    lost = any(seen < written for seen, written in counts.values())
    print(f"targets: run page FCP p95 {fcp95:.0f} ms < {FCP_TARGET_MS:.0f} ms: "
          f"{'meets' if fcp95 < FCP_TARGET_MS else 'MISSES'}; live log lag p99 {lag99:.3f} s "
          f"< {LAG_TARGET_S:.0f} s: {'meets' if lag99 < LAG_TARGET_S else 'MISSES'}"
          + ("; FAIL: lines were written that never showed" if lost else "")
          + f"; load {os.getloadavg()[0]:.2f}")
    if args.keep:
        print(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed or lost else 0


if __name__ == "__main__":
    sys.exit(main())
