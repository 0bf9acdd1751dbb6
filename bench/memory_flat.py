"""Peak memory of ``dteg run`` at N and 10×N input rows: does it stay flat as input grows?

Runs the csv_pipeline.py job (CSV → validate → mask → Parquet) with dteg on N rows and on 10×N
rows (defaults 200k and 2M; ≈ 20 MB and ≈ 200 MB of CSV), each in its own subprocess, and prints
each run's peak RSS and their ratio. A streaming engine should show a ratio near 1; an engine
that materialises the input grows with it. The baselines from csv_pipeline.py can be added as
references (``--variants dteg,pyarrow,beam_yaml``).

    .venv/bin/python bench/memory_flat.py [--rows 200000] [--factor 10]
"""

from __future__ import annotations

import argparse
import shutil
import sys

import benchlib
from csv_pipeline import VARIANTS, run_variant

FLAT_RATIO = 1.5  # peak RSS at 10×N over peak RSS at N, at most, to call it flat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="the small input, N")
    parser.add_argument("--factor", type=int, default=10, help="the large input is factor×N")
    parser.add_argument("--variants", default="dteg",
                        help=f"comma-separated subset of {','.join(VARIANTS)}")
    parser.add_argument("--keep", action="store_true", help="keep outputs in bench/out/")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if set(names) - set(VARIANTS):
        parser.error(f"unknown variants: {sorted(set(names) - set(VARIANTS))}")

    sizes = [args.rows, args.rows * args.factor]
    inputs = {n: benchlib.ensure_input(n) for n in sizes}
    workdir = benchlib.workdir("memory_flat")
    ok = True
    print(f"\nPeak RSS as input grows {args.factor}× (CSV → validate → mask → Parquet)")
    print(f"{'variant':<10} {'rows':>11} {'CSV MB':>8} {'seconds':>8} {'peak RSS MB':>12} "
          f"{'rows written':>13}")
    for name in names:
        peaks = []
        for n in sizes:
            path, meta = inputs[n]
            r = run_variant(name, path, n, 1, workdir)
            if r.error or not r.runs:
                print(f"{name:<10} {n:>11,} {meta['bytes'] / 1e6:>8.0f} ERROR: "
                      f"{(r.error or '').splitlines()[0]}")
                ok = False
                break
            peaks.append(r.peak_rss_mb)
            note = "" if r.rows_written == meta["expected_valid"] else (
                f"  WARNING: expected {meta['expected_valid']:,}")
            ok = ok and not note
            print(f"{name:<10} {n:>11,} {meta['bytes'] / 1e6:>8.0f} {r.seconds:>8.2f} "
                  f"{r.peak_rss_mb:>12.0f} {r.rows_written:>13,}{note}")
            if r.processes_seen > 1:
                print(f"{'':<10} ({r.processes_seen} processes; summed RSS peak "
                      f"{r.tree_peak_rss_mb:.0f} MB)")
        if len(peaks) == 2:
            ratio = peaks[1] / peaks[0]
            verdict = "flat" if ratio <= FLAT_RATIO else "NOT flat"
            print(f"{name:<10} peak RSS ratio {args.factor}×N / N = {ratio:.2f} "
                  f"({verdict}; threshold ≤ {FLAT_RATIO:g})")
            ok = ok and (name != "dteg" or ratio <= FLAT_RATIO)
    print(benchlib.machine_note())
    if args.keep:
        print(f"\noutputs and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
