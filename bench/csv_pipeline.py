"""CSV → validate → mask → Parquet: dteg against Beam YAML and hand-written pyarrow.

One job, three implementations, each run as its own subprocess (each pays its own interpreter
start-up and imports) on the same cached input:

  dteg       ``dteg run bench/pipelines/csv_validate_mask_parquet.yaml`` (FnApiRunner, Arrow
             batches)
  beam_yaml  ``bench/pipelines/beam_yaml_csv_validate_mask_parquet.yaml`` through
             ``apache_beam.yaml`` on the same in-process FnApiRunner (per-row Python UDFs)
  pyarrow    ``bench/baselines/pyarrow_csv.py``: streaming pyarrow.csv + pyarrow.compute + hmac

The job: drop rows whose id or email is null or whose email does not full-match the email
pattern (dead-lettered), replace email with hex HMAC-SHA256(key, email), write one Parquet file.
Every variant's output row count is read back from the Parquet metadata and checked against
the generator's expected count and against the other variants.

Targets: dteg ≥ 3× faster than Beam YAML; dteg ≤ 1.5× the time of plain pyarrow.

    .venv/bin/python bench/csv_pipeline.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import benchlib
from benchlib import BENCH_DIR, DTEG, PYTHON, VariantResult

PIPELINE = BENCH_DIR / "pipelines" / "csv_validate_mask_parquet.yaml"
DTEG_STATE = PIPELINE.parent / ".dteg"  # where dteg puts dead letters for this pipeline
MASK_KEY = "bench-hmac-key-2026"
VARIANTS = ("dteg", "beam_yaml", "pyarrow")
TARGET_VS_BEAM_YAML = 3.0  # dteg speed-up over Beam YAML, at least
TARGET_VS_PYARROW = 1.5  # dteg time / pyarrow time, at most


def variant_command(
    name: str, input_path: Path, output: Path, run_id: str
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run variant ``name``.

    dteg gets ``--run-id`` only so that its dead-letter file can be found (and moved out of
    bench/pipelines/) even when other dteg runs of the same pipeline happen at the same time.
    """
    env = dict(os.environ)
    env["BENCH_MASK_KEY"] = MASK_KEY
    env["BENCH_INPUT"] = str(input_path)
    env["BENCH_OUTPUT"] = str(output)
    env.pop("PYTHONPATH", None)
    if name == "dteg":
        return [DTEG, "run", str(PIPELINE), "--run-id", run_id], env
    io_args = ["--input", str(input_path), "--output", str(output)]
    if name == "beam_yaml":
        env["PYTHONPATH"] = str(benchlib.ensure_beam_yaml_deps())
        return [PYTHON, str(BENCH_DIR / "baselines" / "beam_yaml_csv.py"), *io_args], env
    if name == "pyarrow":
        return [PYTHON, str(BENCH_DIR / "baselines" / "pyarrow_csv.py"), *io_args], env
    raise ValueError(f"unknown variant {name!r}")


def _collect_dteg_dead_letters(run_id: str, dest: Path) -> int | None:
    """Move the dead-letter file of dteg run ``run_id`` into ``dest``; return its line count.

    dteg writes it beside the pipeline, ``<pipeline dir>/.dteg/dead_letter/<pipeline>/<run
    id>.jsonl``; moving it keeps bench/pipelines/ clean. Directories left empty are removed.
    """
    found = sorted(DTEG_STATE.glob(f"dead_letter/*/{run_id}*.jsonl"))
    if not found:
        return None
    lines = 0
    for p in found:
        with open(p, "rb") as f:
            lines += sum(1 for _ in f)
        shutil.move(p, dest / p.name)
        for parent in (p.parent, p.parent.parent, DTEG_STATE):
            try:
                parent.rmdir()
            except OSError:
                break
    return lines


def run_variant(
    name: str, input_path: Path, rows: int, repeat: int, workdir: Path
) -> VariantResult:
    """Run one variant ``repeat`` times and read back what it wrote."""
    result = VariantResult(name)
    if name == "dteg":
        reason = benchlib.dteg_available()
        if reason:
            result.error = reason
            return result
    vdir = workdir / name
    output = vdir / f"{name}_{rows}.parquet"
    for i in range(repeat):
        shutil.rmtree(vdir, ignore_errors=True)
        vdir.mkdir(parents=True)
        run_id = f"bench-{os.getpid()}-{rows}-{i}"
        cmd, env = variant_command(name, input_path, output, run_id)
        m = benchlib.measure(cmd, env, workdir / f"{name}_{rows}_{i}.log", cwd=vdir)
        result.runs.append(m)
        if name == "dteg":
            result.dead_letters = _collect_dteg_dead_letters(run_id, vdir)
        elif name == "pyarrow":
            rejected = Path(str(output) + ".rejected.jsonl")
            if rejected.exists():
                with open(rejected, "rb") as f:
                    result.dead_letters = sum(1 for _ in f)
        status = "ok" if m.returncode == 0 else f"FAILED (exit {m.returncode})"
        print(f"  {name:<10} run {i + 1}/{repeat}: {m.seconds:7.2f} s, "
              f"{m.peak_rss_mb:7.0f} MB  {status}", file=sys.stderr)
        if m.returncode != 0:
            result.error = f"exit {m.returncode}; log {m.log}\n{benchlib.log_tail(m.log)}"
            return result
    try:
        result.rows_written = benchlib.parquet_rows(output)
        result.output = output
    except (FileNotFoundError, OSError) as exn:
        result.error = f"could not read output: {exn}"
    return result


def same_contents(results: list[VariantResult]) -> str | None:
    """None if every variant wrote the same (id, hashed email) pairs, else what differs."""
    tables = {r.name: benchlib.parquet_id_email(r.output) for r in results if r.output}
    if len(tables) < 2:
        return None
    (first, ref), *others = tables.items()
    for name, table in others:
        # Compare values column by column: schemas differ in nullability and metadata.
        if not all(table.column(c).equals(ref.column(c)) for c in ("id", "email")):
            return f"{name} and {first} wrote different (id, email) values"
    return None


def print_report(results: list[VariantResult], rows: int, expected_valid: int) -> bool:
    """Print the table and the ratios; return False if any check failed."""
    ok = True
    print(f"\nCSV → validate → mask → Parquet, {rows:,} input rows, "
          f"{expected_valid:,} expected valid")
    print(f"{'variant':<10} {'seconds':>8} {'CPU s':>7} {'rows/s':>11} {'peak RSS MB':>12} "
          f"{'rows written':>13} {'dead letters':>13}")
    by_name = {r.name: r for r in results}
    for r in results:
        if not r.runs or r.error:
            print(f"{r.name:<10} {'-':>8} {'-':>7} {'-':>11} {'-':>12} {'-':>13}  ERROR: "
                  f"{(r.error or '').splitlines()[0]}")
            ok = False
            continue
        dead = "-" if r.dead_letters is None else f"{r.dead_letters:,}"
        print(f"{r.name:<10} {r.seconds:>8.2f} {r.cpu_seconds:>7.2f} "
              f"{benchlib.fmt_rate(rows, r.seconds):>11} "
              f"{r.peak_rss_mb:>12.0f} {r.rows_written:>13,} {dead:>13}")
        if r.processes_seen > 1:
            print(f"{'':<10} ({r.processes_seen} processes; summed RSS peak "
                  f"{r.tree_peak_rss_mb:.0f} MB)")
    print("(seconds = wall, median of runs, start-up included; CPU s = user + sys; rows/s = input"
          " rows / wall s;\n peak RSS = largest process, max of runs; Beam YAML's Filter drops"
          " rows, it has no dead letters)")

    written = {r.name: r.rows_written for r in results if r.rows_written is not None}
    if len(set(written.values())) > 1:
        ok = False
        print(f"\nWARNING: variants wrote different row counts: {written}")
    for name, n in written.items():
        if n != expected_valid:
            ok = False
            print(f"WARNING: {name} wrote {n:,} rows, expected {expected_valid:,}")
    if len(set(written.values())) == 1 and len(written) > 1:
        diff = same_contents(results)
        ok = ok and diff is None
        print(f"\nWARNING: {diff}" if diff else
              "(content check: every variant wrote the same id → hashed email pairs)")
    for r in results:
        if r.dead_letters is not None and r.dead_letters != rows - expected_valid:
            ok = False
            print(f"WARNING: {r.name} dead-lettered {r.dead_letters:,} rows, expected "
                  f"{rows - expected_valid:,}")

    d, b, p = (by_name.get(n) for n in VARIANTS)
    print()
    if d and d.runs and not d.error:
        if b and b.runs and not b.error:
            speedup = b.seconds / d.seconds
            verdict = "meets" if speedup >= TARGET_VS_BEAM_YAML else "MISSES"
            print(f"dteg vs Beam YAML: {speedup:.2f}× faster "
                  f"(target ≥ {TARGET_VS_BEAM_YAML:g}×: {verdict})")
        if p and p.runs and not p.error:
            ratio = d.seconds / p.seconds
            verdict = "meets" if ratio <= TARGET_VS_PYARROW else "MISSES"
            print(f"dteg vs pyarrow:   {ratio:.2f}× the time "
                  f"(target ≤ {TARGET_VS_PYARROW:g}×: {verdict})")
    else:
        print("dteg ratios: not measured (dteg did not run)")
    if b and p and b.runs and p.runs and not b.error and not p.error:
        print(f"(Beam YAML vs pyarrow: {b.seconds / p.seconds:.2f}× the time)")
    for r in results:
        if r.error and "\n" in r.error:
            print(f"\n{r.name} error:\n{r.error}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant (median kept)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {','.join(VARIANTS)}")
    parser.add_argument("--keep", action="store_true", help="keep outputs in bench/out/")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {sorted(unknown)}")

    input_path, meta = benchlib.ensure_input(args.rows)
    workdir = benchlib.workdir("csv_pipeline")
    print(benchlib.machine_note(), file=sys.stderr)
    results = [run_variant(n, input_path, args.rows, args.repeat, workdir) for n in names]
    ok = print_report(results, args.rows, meta["expected_valid"])
    print(benchlib.machine_note())
    if args.keep:
        print(f"\noutputs and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
