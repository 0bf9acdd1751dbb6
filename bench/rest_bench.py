"""REST API → Parquet: dteg's ``http`` source against a hand-written ``requests`` loop.

Both read the same local REST API (tests/integration/rest_api.py, a ThreadingHTTPServer in
its own process on 127.0.0.1 generating N records, pages of --page-size) and write one
Parquet file with the same columns, each variant in its own subprocess:

  dteg      ``dteg run`` of a generated pipeline: `type: rest`, page pagination, records
            at ``$.data``, nested values as JSON text → parquet sink (embedded FnApiRunner)
  baseline  ``bench/baselines/rest_requests_loop.py``: requests.Session + ParquetWriter

Runs are paired A B A B … (--repeat pairs); medians are quoted, with the ratio
dteg time / baseline time (lower is better; 1.0 = as fast as the loop). Wall time includes
each process's start-up (dteg pays for importing Beam).

    PYTHONPATH=. .venv/bin/python bench/rest_bench.py [--rows 1000000] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import benchlib
from benchlib import BENCH_DIR, DTEG, PYTHON, REPO

SERVER = REPO / "tests" / "integration" / "rest_api.py"
BASELINE = BENCH_DIR / "baselines" / "rest_requests_loop.py"

PIPELINE = """\
pipeline:
  name: rest_bench
  steps:
    - extract:
        type: rest
        config:
          url: {url}
          records: $.data
          pagination: {{style: page, size_param: per_page, size: {size}}}
          timeout_seconds: 120
    - load:
        type: parquet
        config:
          path: {out}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(rows: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([PYTHON, str(SERVER), str(port), str(rows)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}/page"
        except OSError:
            if proc.poll() is not None:
                sys.exit("the REST API server exited at start")
            time.sleep(0.1)
    proc.kill()
    sys.exit("the REST API server did not listen within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2, help="A B pairs")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    reason = benchlib.dteg_available()
    if reason:
        sys.exit(f"dteg is not usable: {reason}")
    work = benchlib.workdir("rest_bench")
    server, url = start_server(args.rows)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times: dict[str, list[float]] = {"dteg": [], "requests loop": []}
    try:
        for i in range(args.repeat):
            out = work / f"dteg-{i}.parquet"
            pipeline = work / f"rest_bench_{i}.yaml"
            pipeline.write_text(PIPELINE.format(url=url, size=args.page_size, out=out))
            m = benchlib.measure([DTEG, "run", str(pipeline)], env, work / f"dteg-{i}.log",
                                 cwd=work)
            if m.returncode != 0 or benchlib.parquet_rows(out) != args.rows:
                sys.exit(f"dteg run failed or lost rows:\n{benchlib.log_tail(m.log)}")
            times["dteg"].append(m.seconds)
            base_out = work / f"loop-{i}.parquet"
            b = benchlib.measure([PYTHON, str(BASELINE), "--url", url, "--page-size",
                                  str(args.page_size), "--output", str(base_out)], env,
                                 work / f"loop-{i}.log", cwd=work)
            if b.returncode != 0 or benchlib.parquet_rows(base_out) != args.rows:
                sys.exit(f"the requests loop failed or lost rows:\n{benchlib.log_tail(b.log)}")
            times["requests loop"].append(b.seconds)
            print(f"pair {i + 1}: dteg {m.seconds:.1f} s, requests loop {b.seconds:.1f} s",
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print(benchlib.machine_note())
    print(f"{args.rows:,} records in pages of {args.page_size:,} "
          f"({args.rows // args.page_size:,} requests), medians of {args.repeat} A B pairs:")
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, seconds in medians.items():
        print(f"  {name:<14} {seconds:7.1f} s  {benchlib.fmt_rate(args.rows, seconds):>10} "
              "records/s")
    print(f"  ratio dteg / requests loop: {medians['dteg'] / medians['requests loop']:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
