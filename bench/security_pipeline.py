"""CSV → validate → mask → encrypt → Parquet: dteg against hand-written pyarrow + cryptography.

One job, two implementations, each run as its own subprocess (each pays its own interpreter
start-up and imports) on the same cached input (bench/gen_csv.py):

  dteg     ``dteg run bench/pipelines/security_validate_mask_encrypt_parquet.yaml``
  pyarrow  ``bench/baselines/pyarrow_security.py``: streaming pyarrow.csv + pyarrow.compute +
           hmac + cryptography's AESGCM

The job: dead-letter rows whose id or email is null or whose email does not full-match the
email pattern; replace ``email`` and ``phone`` with hex HMAC-SHA256(key, value); replace
``name`` with AES-256-GCM ciphertext (random nonce per value, ``dteg:v1:b1:<base64>``); write
one Parquet file; dead letters are protected the same way. Checks: both wrote the expected row
count, the same (id, hashed email, hashed phone) triples, and names that decrypt (with dteg's
``decrypt``) to the same plaintexts.

Target: dteg ≤ 1.5× the time of the hand-written script.

    .venv/bin/python bench/security_pipeline.py --rows 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import benchlib
from benchlib import BENCH_DIR, DTEG, PYTHON, VariantResult

PIPELINE = BENCH_DIR / "pipelines" / "security_validate_mask_encrypt_parquet.yaml"
DTEG_STATE = PIPELINE.parent / ".dteg"
MASK_KEY = "bench-hmac-key-2026"
ENCRYPTION_KEY = "bench-aes-256-gcm-key-2026"
VARIANTS = ("dteg", "pyarrow")
TARGET_VS_PYARROW = 1.5  # dteg time / hand-written time, at most


def variant_command(name: str, input_path: Path, output: Path, run_id: str
                    ) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    env.update(BENCH_MASK_KEY=MASK_KEY, BENCH_ENCRYPTION_KEY=ENCRYPTION_KEY,
               BENCH_INPUT=str(input_path), BENCH_OUTPUT=str(output))
    env.pop("PYTHONPATH", None)
    if name == "dteg":
        return [DTEG, "run", str(PIPELINE), "--run-id", run_id, "--quiet"], env
    if name == "pyarrow":
        return [PYTHON, str(BENCH_DIR / "baselines" / "pyarrow_security.py"),
                "--input", str(input_path), "--output", str(output)], env
    raise ValueError(f"unknown variant {name!r}")


def _collect_dteg_dead_letters(run_id: str, dest: Path) -> int | None:
    """Move dteg's dead-letter file for ``run_id`` out of bench/pipelines/; count its lines."""
    found = sorted(DTEG_STATE.glob(f"dead_letter/*/{run_id}*.jsonl"))
    if not found:
        return None
    lines = 0
    for p in found:
        with open(p, "rb") as f:
            lines += sum(1 for _ in f)
        shutil.move(p, dest / p.name)
    return lines


def run_variant(name: str, input_path: Path, rows: int, repeat: int, workdir: Path,
                attempt: int = 0) -> VariantResult:
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
        run_id = f"bench-security-{os.getpid()}-{rows}-{attempt}-{i}"  # run ids are unique
        cmd, env = variant_command(name, input_path, output, run_id)
        m = benchlib.measure(cmd, env, workdir / f"{name}_{rows}_{attempt}_{i}.log", cwd=vdir)
        result.runs.append(m)
        if name == "dteg":
            result.dead_letters = _collect_dteg_dead_letters(run_id, vdir)
        else:
            rejected = Path(str(output) + ".rejected.jsonl")
            if rejected.exists():
                with open(rejected, "rb") as f:
                    result.dead_letters = sum(1 for _ in f)
        status = "ok" if m.returncode == 0 else f"FAILED (exit {m.returncode})"
        print(f"  {name:<8} run {i + 1}/{repeat}: {m.seconds:7.2f} s, {m.cpu_seconds:6.2f} CPU s, "
              f"{m.peak_rss_mb:6.0f} MB  {status}", file=sys.stderr)
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
    """None if both wrote the same hashes and names that decrypt to the same text."""
    import pyarrow.parquet as pq

    from dteg.security.cipher import decrypt_texts
    from dteg.security.keys import KeyConfig, Keyring

    ring = Keyring.load([KeyConfig(id="b1", env="BENCH_ENCRYPTION_KEY")],
                        environ={"BENCH_ENCRYPTION_KEY": ENCRYPTION_KEY})
    tables = {}
    for r in results:
        if r.output is None:
            continue
        table = pq.read_table(r.output, columns=["id", "email", "phone", "name"]).sort_by("id")
        decrypted = decrypt_texts(ring, table.column("name").to_pylist())
        if decrypted.failures:
            return f"{r.name}: {len(decrypted.failures)} names do not decrypt"
        tables[r.name] = (table, decrypted.values)
    if len(tables) < 2:
        return None
    (first, (ref, ref_names)), *others = tables.items()
    for name, (table, names) in others:
        for column in ("id", "email", "phone"):
            if not table.column(column).equals(ref.column(column)):
                return f"{name} and {first} wrote different `{column}` values"
        if names != ref_names:
            return f"{name} and {first} encrypted different names"
    return None


def print_report(results: list[VariantResult], rows: int, expected_valid: int) -> bool:
    ok = True
    print(f"\nCSV → validate → mask (HMAC × 2) → encrypt (AES-256-GCM × 1) → Parquet, "
          f"{rows:,} input rows, {expected_valid:,} expected valid")
    print(f"{'variant':<8} {'seconds':>8} {'CPU s':>7} {'rows/s':>11} {'peak RSS MB':>12} "
          f"{'rows written':>13} {'dead letters':>13}")
    for r in results:
        if not r.runs or r.error:
            print(f"{r.name:<8} ERROR: {(r.error or '').splitlines()[0]}")
            ok = False
            continue
        dead = "-" if r.dead_letters is None else f"{r.dead_letters:,}"
        print(f"{r.name:<8} {r.seconds:>8.2f} {r.cpu_seconds:>7.2f} "
              f"{benchlib.fmt_rate(rows, r.seconds):>11} {r.peak_rss_mb:>12.0f} "
              f"{r.rows_written:>13,} {dead:>13}")
    print("(seconds = wall, median of runs, start-up included; CPU s = user + sys, median)")
    for r in results:
        if r.rows_written is not None and r.rows_written != expected_valid:
            ok = False
            print(f"WARNING: {r.name} wrote {r.rows_written:,} rows, expected {expected_valid:,}")
        if r.dead_letters is not None and r.dead_letters != rows - expected_valid:
            ok = False
            print(f"WARNING: {r.name} dead-lettered {r.dead_letters:,} rows, expected "
                  f"{rows - expected_valid:,}")
    if all(r.output for r in results) and len(results) > 1:
        diff = same_contents(results)
        ok = ok and diff is None
        print(f"WARNING: {diff}" if diff else "(content check: same id → hashed email, hashed "
              "phone, and names that decrypt to the same text)")
    by_name = {r.name: r for r in results}
    d, p = by_name.get("dteg"), by_name.get("pyarrow")
    if d and p and d.runs and p.runs and not d.error and not p.error:
        ratio = d.seconds / p.seconds
        verdict = "meets" if ratio <= TARGET_VS_PYARROW else "MISSES"
        cpu = d.cpu_seconds / p.cpu_seconds
        print(f"\ndteg vs hand-written pyarrow+cryptography: {ratio:.2f}× the time "
              f"(target ≤ {TARGET_VS_PYARROW:g}×: {verdict}); {cpu:.2f}× the CPU time")
        ok = ok and ratio <= TARGET_VS_PYARROW
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median kept)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--keep", action="store_true", help="keep outputs in bench/out/")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if set(names) - set(VARIANTS):
        parser.error(f"unknown variants: {sorted(set(names) - set(VARIANTS))}")
    input_path, meta = benchlib.ensure_input(args.rows)
    workdir = benchlib.workdir("security_pipeline")
    print(benchlib.machine_note(), file=sys.stderr)
    # Alternate the variants run by run, so a busy spell of the machine hits both alike.
    results = {n: VariantResult(n) for n in names}
    for attempt in range(args.repeat):
        for n in names:
            one = run_variant(n, input_path, args.rows, 1, workdir, attempt)
            r = results[n]
            r.runs += one.runs
            r.error = r.error or one.error
            r.rows_written, r.output = one.rows_written, one.output
            r.dead_letters = one.dead_letters
            if one.output is not None:  # keep this run's output apart from the next one's
                kept = workdir / f"{n}_last.parquet"
                shutil.move(one.output, kept)
                r.output = kept
    ok = print_report(list(results.values()), args.rows, meta["expected_valid"])
    print(benchlib.machine_note())
    if args.keep or not ok:
        print(f"\noutputs and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
