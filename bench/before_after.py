"""The same dteg job on two dteg source trees, interleaved (A B A B …), to show a change of
the code's shape keeps the speed: the baseline is dteg itself at an earlier commit.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/before_after.py --before /tmp/before --rows 1000000 --pairs 3

Jobs: ``csv`` (bench/pipelines/csv_validate_mask_parquet.yaml: CSV → validate null + regex →
HMAC mask → Parquet), ``security`` (… + AES-GCM encryption) and ``postgres`` (a PostgreSQL
table of the same number of rows → Parquet, 2 partitions; the server of
scripts/services/postgres). Each run is a whole `dteg run`
process; the tree is chosen with PYTHONPATH. Prints per-job medians and after/before.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

JOBS = {"csv": "csv_validate_mask_parquet.yaml",
        "security": "security_validate_mask_encrypt_parquet.yaml",
        "postgres": "postgres_to_parquet.yaml"}
MASK_KEY = "bench-masking-key-0123456789abcdef"
ENCRYPTION_KEY = "base64:" + "A" * 43 + "="


def run_once(tree: Path, job: str, data: Path, work: Path,
             extra: dict[str, str] | None = None) -> float:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "BENCH_INPUT": str(data),
           "BENCH_OUTPUT": str(work / "out.parquet"), "BENCH_MASK_KEY": MASK_KEY,
           "DTEG_ENCRYPTION_KEY": ENCRYPTION_KEY, "BENCH_ENCRYPTION_KEY": ENCRYPTION_KEY,
           **(extra or {})}
    pipeline = work / JOBS[job]
    shutil.copy(benchlib.BENCH_DIR / "pipelines" / JOBS[job], pipeline)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dteg.cli", "run", str(pipeline), "-q"],
                          env=env, cwd=work, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{tree} {job} failed:\n{done.stderr[-2000:]}")
    return seconds


def postgres_env(rows: int) -> dict[str, str]:
    from postgres_to_parquet import ensure_table, postgres_url

    url = postgres_url()
    return {"BENCH_PG_URL": url, "BENCH_TABLE": ensure_table(url, rows),
            "BENCH_PARTITIONS": "2"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the earlier dteg tree")
    parser.add_argument("--after", type=Path, default=benchlib.REPO)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--jobs", default="csv,security,postgres")
    args = parser.parse_args()
    data, _ = benchlib.ensure_input(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        for job in args.jobs.split(","):
            extra = postgres_env(args.rows) if job == "postgres" else None
            times: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.pairs):
                for label, tree in (("before", args.before), ("after", args.after)):
                    times[label].append(run_once(tree.resolve(), job, data,
                                                 Path(tmp) / label, extra))
            before, after = (statistics.median(times[k]) for k in ("before", "after"))
            print(f"{job:<9} {args.rows:,} rows  before {before:6.2f} s  after {after:6.2f} s"
                  f"  after/before {after / before:.3f}  "
                  f"(runs: before {', '.join(f'{t:.2f}' for t in times['before'])}; "
                  f"after {', '.join(f'{t:.2f}' for t in times['after'])})")


if __name__ == "__main__":
    main()
