"""What the "dteg against a hand-written baseline" benchmarks share (s3_parquet, gcs_parquet,
mongodb_to_parquet): a free port, the interleaved runs (dteg, baseline, dteg, baseline …, so
a busy moment hurts both alike) with every output's row count checked, and the report of the
medians and the ratio."""

from __future__ import annotations

import socket
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import benchlib

# (variant, run index) → the command to run and its environment
Command = Callable[[str, int], tuple[list[str], dict[str, str]]]
# (variant, run index) → the rows its output holds (read back after a run that exited 0)
Rows = Callable[[str, int], int]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def csv_to_store(pipeline: str, baseline: str, input_path: Path, scheme: str, work: Path,
                 env: dict[str, str]) -> Command:
    """The commands of a CSV → Parquet-on-an-object-store bench: ``dteg run`` of ``pipeline``
    (formatted with ``input`` and ``url``) or ``bench/baselines/BASELINE``, each writing
    ``SCHEME://bench/<variant>-<i>.parquet``."""

    def command(name: str, i: int) -> tuple[list[str], dict[str, str]]:
        url = f"{scheme}://bench/{name}-{i}.parquet"
        if name == "dteg":
            path = work / f"pipeline-{i}.yaml"
            path.write_text(pipeline.format(input=input_path, url=url))
            return [benchlib.DTEG, "run", str(path)], env
        return [benchlib.PYTHON, str(benchlib.BENCH_DIR / "baselines" / baseline),
                "--input", str(input_path), "--url", url], env

    return command


def run_pairs(variants: Sequence[str], repeat: int, expected: int, work: Path,
              command: Command, rows: Rows) -> tuple[dict[str, list[float]], bool]:
    """Each variant ``repeat`` times, interleaved; returns the seconds per variant and whether
    every run exited 0 with ``expected`` rows."""
    print(benchlib.machine_note(), file=sys.stderr)
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    ok = True
    for i in range(repeat):
        # A B B A …: interleaved, so a busy moment hurts every variant alike
        for name in (variants if i % 2 == 0 else list(variants)[::-1]):
            cmd, env = command(name, i)
            m = benchlib.measure(cmd, env, work / f"{name}-{i}.log")
            got = rows(name, i) if m.returncode == 0 else None
            if m.returncode != 0 or got != expected:
                ok = False
                print(f"{name} run {i}: exit {m.returncode}, rows {got}\n"
                      f"{benchlib.log_tail(m.log)}", file=sys.stderr)
            seconds[name].append(m.seconds)
            print(f"{name:8s} run {i + 1}: {m.seconds:6.2f} s  "
                  f"peak RSS {m.tree_peak_rss_mb:,.0f} MB  rows {got}", file=sys.stderr)
    return seconds, ok


def report(title: str, seconds: dict[str, list[float]], count: int, unit: str,
           baseline: str, baseline_label: str) -> None:
    """The medians of each variant and the ratio dteg / ``baseline``."""
    med = {k: statistics.median(v) for k, v in seconds.items() if v}
    repeat = max(len(v) for v in seconds.values())
    print(f"\n{title}, {count:,} {unit}, median of {repeat}")
    for name, runs in seconds.items():
        listed = ", ".join(f"{s:.2f}" for s in runs)
        print(f"  {name:8s} {med[name]:6.2f} s  ({benchlib.fmt_rate(count, med[name])} "
              f"{unit}/s; runs: {listed})")
    print(f"  ratio dteg / {baseline_label}: {med['dteg'] / med[baseline]:.2f}×")
    print(benchlib.machine_note())
