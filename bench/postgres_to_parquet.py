"""PostgreSQL table → one Parquet file: dteg against dlt and a hand-written COPY script.

Three implementations, each run as its own subprocess on the same table of the local test
server (scripts/services/postgres, started if needed):

  dteg  ``dteg run bench/pipelines/postgres_to_parquet.yaml`` (ADBC COPY → Arrow batches →
        Beam FnApiRunner → Parquet sink), ``partitions: N`` key ranges
  dlt   ``bench/baselines/dlt_postgres.py``: ``sql_database(backend="pyarrow")`` → filesystem
        destination, Parquet
  copy  ``bench/baselines/copy_postgres.py``: ``COPY (SELECT * FROM t) TO STDOUT (FORMAT csv)``
        over psycopg 3 → pyarrow streaming CSV reader → ParquetWriter

Runs are interleaved (dteg, dlt, copy, dteg, …) so that load from other work on the machine
hits every variant alike; the median of --repeat runs is kept. Every output's row count and
sum(id) are read back and compared.

Targets: dteg's throughput ≥ dlt's, and ≥ 50 % of the COPY script's.

    .venv/bin/python bench/postgres_to_parquet.py --rows 2000000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import benchlib
from benchlib import BENCH_DIR, DTEG, PYTHON, REPO, VariantResult

PIPELINE = BENCH_DIR / "pipelines" / "postgres_to_parquet.yaml"
VARIANTS = ("dteg", "dlt", "copy")
TARGET_VS_DLT = 1.0  # dteg throughput / dlt throughput, at least
TARGET_VS_COPY = 0.5  # dteg throughput / COPY script throughput, at least


def postgres_url() -> str:
    """Start the local server if needed and return its URL."""
    script = REPO / "scripts" / "services" / "postgres"
    subprocess.run([str(script), "start"], check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run([str(script), "env"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("export DTEG_POSTGRES_URL="):
            return shlex.split(line.split("=", 1)[1])[0]
    raise RuntimeError("scripts/services/postgres env printed no DTEG_POSTGRES_URL")


def ensure_table(url: str, rows: int) -> str:
    """``bench_orders_<rows>``: deterministic orders (8 columns: ints, text, numeric(12,2),
    boolean, timestamptz, timestamp), created once and kept."""
    import psycopg

    table = f"bench_orders_{rows}"
    with psycopg.connect(url, autocommit=True) as con:
        found = con.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if found and found[0] and con.execute(f"SELECT count(*) FROM {table}").fetchone() == (
                rows,):
            return table
        print(f"creating {table} ({rows:,} rows) ...", file=sys.stderr)
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"""
            CREATE TABLE {table} AS SELECT
              g::bigint AS id, (g % 50000)::int AS customer_id,
              'user' || g || '@example.com' AS email,
              ((g::bigint * 7919) % 100000 / 100.0)::numeric(12,2) AS amount,
              (ARRAY['paid','pending','refunded'])[1 + g % 3] AS status,
              (g % 7 = 0) AS is_gift,
              timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS created_at,
              timestamp '2024-01-01' + g * interval '1 second' AS updated_at
            FROM generate_series(1, {rows}) g""")
        con.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        con.execute(f"VACUUM ANALYZE {table}")
    return table


def variant_command(name: str, url: str, table: str, output: Path, vdir: Path,
                    partitions: int) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if name == "dteg":
        env.update(BENCH_PG_URL=url, BENCH_TABLE=table, BENCH_OUTPUT=str(output),
                   BENCH_PARTITIONS=str(partitions))
        return [DTEG, "run", "-q", str(PIPELINE)], env
    if name == "dlt":
        return [PYTHON, str(BENCH_DIR / "baselines" / "dlt_postgres.py"), "--url", url,
                "--table", table, "--output", str(output), "--workdir", str(vdir / "dlt")], env
    if name == "copy":
        return [PYTHON, str(BENCH_DIR / "baselines" / "copy_postgres.py"), "--url", url,
                "--table", table, "--output", str(output)], env
    raise ValueError(f"unknown variant {name!r}")


def output_of(name: str, vdir: Path) -> Path:
    return vdir / ("out" if name == "dlt" else f"{name}.parquet")


def id_sum(path: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    return sum(pc.sum(pq.read_table(f, columns=["id"]).column("id")).as_py() or 0
               for f in files)


def run_all(names: list[str], url: str, table: str, repeat: int, partitions: int,
            workdir: Path) -> tuple[list[VariantResult], dict[str, int]]:
    results = {n: VariantResult(n) for n in names}
    sums: dict[str, int] = {}
    for i in range(repeat):
        for name in names:
            result = results[name]
            if result.error:
                continue
            vdir = workdir / name
            shutil.rmtree(vdir, ignore_errors=True)
            vdir.mkdir(parents=True)
            output = output_of(name, vdir)
            cmd, env = variant_command(name, url, table, output, vdir, partitions)
            m = benchlib.measure(cmd, env, workdir / f"{name}_{i}.log", cwd=vdir)
            result.runs.append(m)
            status = "ok" if m.returncode == 0 else f"FAILED (exit {m.returncode})"
            print(f"  {name:<5} run {i + 1}/{repeat}: {m.seconds:7.2f} s, {m.cpu_seconds:6.2f} "
                  f"CPU s, {m.peak_rss_mb:6.0f} MB  {status}", file=sys.stderr)
            if m.returncode != 0:
                result.error = f"exit {m.returncode}; log {m.log}\n{benchlib.log_tail(m.log)}"
                continue
            try:
                result.rows_written = benchlib.parquet_rows(output)
                sums[name] = id_sum(output)
            except (FileNotFoundError, OSError) as exn:
                result.error = f"could not read output: {exn}"
    return list(results.values()), sums


def print_report(results: list[VariantResult], rows: int, sums: dict[str, int],
                 partitions: int) -> bool:
    ok = True
    print(f"\nPostgreSQL table → Parquet, {rows:,} rows (dteg partitions: {partitions})")
    print(f"{'variant':<8} {'seconds':>8} {'CPU s':>7} {'rows/s':>11} {'peak RSS MB':>12} "
          f"{'rows written':>13}")
    for r in results:
        if not r.runs or r.error:
            ok = False
            print(f"{r.name:<8} ERROR: {(r.error or 'not run').splitlines()[0]}")
            continue
        print(f"{r.name:<8} {r.seconds:>8.2f} {r.cpu_seconds:>7.2f} "
              f"{benchlib.fmt_rate(rows, r.seconds):>11} {r.peak_rss_mb:>12.0f} "
              f"{r.rows_written:>13,}")
    print("(seconds = wall, median of runs, start-up included; rows/s = rows / wall s)")
    expected_sum = rows * (rows + 1) // 2
    for r in results:
        if r.rows_written is not None and r.rows_written != rows:
            ok = False
            print(f"WARNING: {r.name} wrote {r.rows_written:,} rows, expected {rows:,}")
        if r.name in sums and sums[r.name] != expected_sum:
            ok = False
            print(f"WARNING: {r.name}'s ids do not add up (sum {sums[r.name]:,})")
    if sums and all(s == expected_sum for s in sums.values()):
        print("(content check: every variant wrote each id exactly once)")
    by_name = {r.name: r for r in results if r.runs and not r.error}
    d = by_name.get("dteg")
    print()
    for other, target in (("dlt", TARGET_VS_DLT), ("copy", TARGET_VS_COPY)):
        o = by_name.get(other)
        if d and o:
            ratio = o.seconds / d.seconds  # throughput ratio = inverse time ratio
            verdict = "meets" if ratio >= target else "MISSES"
            ok = ok and ratio >= target
            print(f"dteg throughput / {other}: {ratio:.2f} (target ≥ {target:g}: {verdict})")
    for r in results:
        if r.error and "\n" in r.error:
            print(f"\n{r.name} error:\n{r.error}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median kept)")
    parser.add_argument("--partitions", type=int, default=2, help="dteg's `partitions:`")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--keep", action="store_true", help="keep outputs in bench/out/")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if set(names) - set(VARIANTS):
        parser.error(f"unknown variants: {sorted(set(names) - set(VARIANTS))}")
    if "dteg" in names and (reason := benchlib.dteg_available()):
        print(f"dteg is not usable: {reason}", file=sys.stderr)
        return 1
    url = postgres_url()
    table = ensure_table(url, args.rows)
    workdir = benchlib.workdir("postgres_to_parquet")
    print(benchlib.machine_note(), file=sys.stderr)
    results, sums = run_all(names, url, table, args.repeat, args.partitions, workdir)
    ok = print_report(results, args.rows, sums, args.partitions)
    print(benchlib.machine_note())
    if args.keep:
        print(f"\noutputs and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
