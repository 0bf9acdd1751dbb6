"""Bounded CSV → validate → mask → Parquet on Prism against the embedded FnApiRunner.

The same dteg pipeline (bench/pipelines/csv_validate_mask_parquet.yaml) runs as
``dteg run … --runner direct`` (baseline: Beam's FnApiRunner in the process) and
``dteg run … --runner prism`` (Beam starts the Prism binary built by scripts/tools/prism;
SDK workers run in the process, LOOPBACK). Each run is its own subprocess, paired A B A B …;
medians and the ratio Prism / FnApiRunner are printed, and both outputs must hold the same
rows (id, email).

    PYTHONPATH=. .venv/bin/python bench/prism_bench.py [--rows 1000000] [--pairs 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

import benchlib
from benchlib import BENCH_DIR, PYTHON

PIPELINE = BENCH_DIR / "pipelines" / "csv_validate_mask_parquet.yaml"
MASK_KEY = "bench-mask-key"


def prism_binary() -> str:
    import subprocess

    tool = benchlib.REPO / "scripts" / "tools" / "prism"
    done = subprocess.run([str(tool), "--cached"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit("no Prism binary: build it once with scripts/tools/prism")
    return done.stdout.strip()


def run_once(runner: str, input_path: Path, work: Path, index: int,
             prism: str) -> tuple[benchlib.Measurement, Path]:
    folder = work / f"{runner}-{index}"
    folder.mkdir(parents=True)
    pipeline = folder / PIPELINE.name  # its .dteg/ lands in the scratch folder
    shutil.copy(PIPELINE, pipeline)
    output = folder / "out.parquet"
    env = {**os.environ, "BENCH_INPUT": str(input_path), "BENCH_OUTPUT": str(output),
           "BENCH_MASK_KEY": MASK_KEY}
    cmd = [PYTHON, "-m", "dteg.cli", "run", str(pipeline), "--quiet", "--runner", runner]
    if runner == "prism":
        cmd += ["--prism-location", prism]
    result = benchlib.measure(cmd, env, folder / "log.txt")
    if result.returncode != 0:
        sys.exit(f"{runner} run {index} failed:\n{benchlib.log_tail(result.log)}")
    return result, output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=2, help="A B pairs (default 2: A B A B)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    prism = prism_binary()
    input_path, meta = benchlib.ensure_input(args.rows)
    work = benchlib.workdir("prism")
    times: dict[str, list[float]] = {"direct": [], "prism": []}
    cpu: dict[str, list[float]] = {"direct": [], "prism": []}
    outputs: dict[str, Path] = {}
    print(benchlib.machine_note())
    try:
        for i in range(args.pairs):
            for runner in ("direct", "prism"):
                m, out = run_once(runner, input_path, work, i, prism)
                times[runner].append(m.seconds)
                cpu[runner].append(m.cpu_seconds)
                outputs[runner] = out
                print(f"  pair {i + 1} {runner:<6} {m.seconds:7.2f} s wall, "
                      f"{m.cpu_seconds:7.2f} s CPU, peak RSS {m.tree_peak_rss_mb:,.0f} MB")
        rows = {r: benchlib.parquet_rows(p) for r, p in outputs.items()}
        same = benchlib.parquet_id_email(outputs["direct"]).equals(
            benchlib.parquet_id_email(outputs["prism"]))
        med = {r: statistics.median(v) for r, v in times.items()}
        med_cpu = {r: statistics.median(v) for r, v in cpu.items()}
        print(f"rows: {args.rows:,} in, {rows['direct']:,} loaded (FnApiRunner), "
              f"{rows['prism']:,} (Prism), expected {meta.get('expected_valid', '?')}; "
              f"same rows: {same}")
        for r, label in (("direct", "FnApiRunner"), ("prism", "Prism")):
            print(f"{label:<12} median {med[r]:6.2f} s wall "
                  f"({benchlib.fmt_rate(args.rows, med[r])}), {med_cpu[r]:6.2f} s CPU")
        print(f"ratio Prism / FnApiRunner: {med['prism'] / med['direct']:.2f}× wall, "
              f"{med_cpu['prism'] / med_cpu['direct']:.2f}× CPU")
        return 0 if same and rows["direct"] == rows["prism"] else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
