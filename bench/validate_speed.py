"""Wall time of ``dteg validate`` on a 20-step pipeline, against ``import apache_beam``.

``dteg validate`` must not import Beam, so that checking a pipeline (in an editor, a pre-commit
hook, CI) is quick. This generates a 20-step pipeline (csv extract, validate, mask, 16
``filter``/``map`` steps with SQL expressions, parquet load) into bench/out/validate_speed/, runs
``dteg validate <file>`` N times as a subprocess and prints the median wall time, next to:

  python -c "pass"                 the interpreter floor
  python -c "import apache_beam"   what validate avoids (its import alone)
  dteg validate pipelines/quickstart.yaml   the pipeline issue #12 times (no SQL steps)

Targets: median ``dteg validate`` ≤ 0.5 s on the 20 steps, < 0.3 s on the quickstart.

Children write and reuse .pyc files (under the scratch folder, PYTHONPYCACHEPREFIX) even when
PYTHONDONTWRITEBYTECODE is set here: an installed dteg has them, and without them every run
would compile dteg's modules from source again (~50 ms) instead of only the warm-up.

    .venv/bin/python bench/validate_speed.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import benchlib
from benchlib import DTEG, PYTHON

TARGET_SECONDS = 0.5
QUICKSTART_TARGET_SECONDS = 0.3
QUICKSTART = benchlib.REPO / "pipelines" / "quickstart.yaml"

FILTERS = [
    "amount > 0",
    "country <> 'ZZ'",
    "id IS NOT NULL",
    "amount < 100000",
    "name IS NOT NULL",
    "country IN ('US', 'KR', 'JP', 'DE', 'GB', 'FR', 'IN', 'BR', 'CA', 'AU', 'ES', 'IT', "
    "'MX', 'SG')",
    "length(phone) >= 10",
    "total >= 0",
]
MAPS = [
    {"total": "amount * 2"},
    {"amount_cents": "CAST(round(amount * 100) AS BIGINT)"},
    {"country": "lower(country)"},
    {"is_big": "amount > 100"},
    {"tax": "round(amount * 0.1, 2)"},
    {"name_len": "length(name)"},
    {"net": "amount - tax"},
    {"tier": "CASE WHEN amount > 500 THEN 'gold' WHEN amount > 50 THEN 'silver' "
             "ELSE 'bronze' END"},
]


def _q(s: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pipeline_yaml(input_path: Path, output_path: Path) -> str:
    """The 20-step pipeline: extract, validate, mask, 8 map + 8 filter steps, load."""
    lines = [
        "pipeline:",
        "  name: bench_validate_20_steps",
        "  steps:",
        "    - extract:",
        "        type: csv",
        "        config:",
        f"          path: {_q(str(input_path))}",
        "    - validate:",
        "        rules:",
        "          - {type: null_check, columns: [id, email]}",
        "          - {type: format_check, column: email, "
        "pattern: '^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$'}",
        "    - mask:",
        "        columns: {email: hash}",
        "        key: ${env:BENCH_MASK_KEY}",
    ]
    for m, f in zip(MAPS, FILTERS, strict=True):
        cols = ", ".join(f"{k}: {_q(v)}" for k, v in m.items())
        lines.append(f"    - map: {{columns: {{{cols}}}}}")
        lines.append(f"    - filter: {{where: {_q(f)}}}")
    lines += [
        "    - load:",
        "        type: parquet",
        "        config:",
        f"          path: {_q(str(output_path))}",
    ]
    return "\n".join(lines) + "\n"


def time_runs(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], str]:
    """Wall seconds of each of ``runs`` runs (after one warm-up), and the last output."""
    out = ""
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
            )
        out = proc.stdout + proc.stderr
        if i > 0:  # the first run warms the page cache and writes the .pyc files
            times.append(dt)
    return times, out


def child_env(workdir: Path) -> dict[str, str]:
    """The environment of every measured command: .pyc files written on the warm-up and read
    afterwards, in a folder of this run's own."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return dict(env, BENCH_MASK_KEY="bench-hmac-key-2026",
                PYTHONPYCACHEPREFIX=str(workdir / "pycache"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the generated pipeline")
    args = parser.parse_args(argv)

    workdir = benchlib.workdir("validate_speed")
    input_path = workdir / "orders.csv"
    input_path.write_text("id,email,name,phone,country,amount,created_at\n"
                          "1,a@example.com,A B,+1-555-000-0000,US,1.5,2025-01-01T00:00:00Z\n")
    pipeline = workdir / "pipeline_20_steps.yaml"
    pipeline.write_text(pipeline_yaml(input_path, workdir / "out.parquet"))
    steps = sum(1 for line in pipeline.read_text().splitlines() if line.startswith("    - "))
    env = child_env(workdir)

    rows: list[tuple[str, list[float]]] = []
    rows.append(("python -c pass", time_runs([PYTHON, "-c", "pass"], args.runs, env)[0]))
    rows.append(("python -c 'import apache_beam'",
                 time_runs([PYTHON, "-c", "import apache_beam"], args.runs, env)[0]))
    ok = True
    reason = benchlib.dteg_available()
    dteg_times: list[float] | None = None
    quick_times: list[float] | None = None
    if reason:
        print(f"dteg validate: not measured ({reason})")
        ok = False
    else:
        try:
            dteg_times, out = time_runs([DTEG, "validate", str(pipeline)], args.runs, env)
            rows.append((f"dteg validate ({steps} steps)", dteg_times))
            print(out.strip().splitlines()[-1] if out.strip() else "(validate printed nothing)")
            quick_times, _ = time_runs([DTEG, "validate", str(QUICKSTART)], args.runs, env)
            rows.append(("dteg validate quickstart.yaml", quick_times))
        except RuntimeError as exn:
            print(f"dteg validate failed:\n{exn}")
            ok = False

    print(f"\nMedian wall time of {args.runs} runs (after 1 warm-up), subprocess each")
    print(f"{'command':<34} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, times in rows:
        print(f"{name:<34} {statistics.median(times):>9.3f} {min(times):>7.3f} "
              f"{max(times):>7.3f}")
    if dteg_times:
        med = statistics.median(dteg_times)
        beam = statistics.median(rows[1][1])
        verdict = "meets" if med <= TARGET_SECONDS else "MISSES"
        print(f"\ndteg validate: {med:.3f} s (target ≤ {TARGET_SECONDS:g} s: {verdict}); "
              f"{beam / med:.1f}× faster than importing Beam alone")
        ok = ok and med <= TARGET_SECONDS
    if quick_times:
        med = statistics.median(quick_times)
        verdict = "meets" if med < QUICKSTART_TARGET_SECONDS else "MISSES"
        print(f"dteg validate pipelines/quickstart.yaml: {med:.3f} s "
              f"(target < {QUICKSTART_TARGET_SECONDS:g} s: {verdict})")
        ok = ok and med < QUICKSTART_TARGET_SECONDS
    print(benchlib.machine_note())
    if args.keep:
        print(f"pipeline kept at {pipeline}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
