"""The fixed cost of one run: the csv_pipeline job on a small file (1,000 rows), whole processes.

Variants, each its own subprocess, interleaved A B A B … (``--pairs`` rounds, medians):

  dteg         ``python -m dteg.cli run bench/pipelines/csv_validate_mask_parquet.yaml -q`` of
               this tree (PYTHONPATH)
  before       the same of ``--before TREE`` (e.g. ``git worktree add /tmp/before <commit>``)
  beam_sdk     ``bench/baselines/beam_sdk_csv.py``: the job hand-written with the Beam Python
               SDK on the FnApiRunner
  pyarrow      ``bench/baselines/pyarrow_csv.py``

``--no-extras`` also runs every variant as if the cloud extras (Beam's ``[gcp]``/``[aws]``,
boto3, google-cloud-*) were not installed: a ``sitecustomize`` on PYTHONPATH makes importing
them fail, as it would without them. Beam imports its GCP/AWS file systems whenever they
import, so its own start-up differs between the two. One warm-up run of each variant first
writes the .pyc files (``PYTHONPYCACHEPREFIX`` in the scratch folder), as an installed
package has them. Every variant's output rows and (id, email) hashes are compared.

Target (issue 21): dteg ≤ 0.5× beam_sdk, with and without the extras.

    .venv/bin/python bench/fixed_cost.py [--rows 1000] [--pairs 5] [--before DIR] [--no-extras]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

import benchlib
from benchlib import BENCH_DIR, PYTHON, REPO

PIPELINE = BENCH_DIR / "pipelines" / "csv_validate_mask_parquet.yaml"
MASK_KEY = "bench-hmac-key-2026"
TARGET_VS_BEAM_SDK = 0.5
BLOCKER = '''"""No cloud extras (bench/fixed_cost.py): importing them fails, as if not installed."""
import importlib.abc
import sys

_BLOCKED = ("google.cloud.", "google.auth", "google.api_core", "google.genai", "googleapiclient",
            "apitools", "vertexai", "boto3", "botocore", "s3transfer", "google_auth_httplib2")


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith(_BLOCKED) or name + "." in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
'''


def command(variant: str, trees: dict[str, Path], data: Path, out: Path,
            blocker: Path | None, pycache: Path) -> tuple[list[str], dict[str, str], Path]:
    env = {**os.environ, "BENCH_INPUT": str(data), "BENCH_OUTPUT": str(out),
           "BENCH_MASK_KEY": MASK_KEY, "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    path = [str(blocker)] if blocker else []
    cwd = out.parent
    if variant in trees:
        env["PYTHONPATH"] = os.pathsep.join([*path, str(trees[variant])])
        shutil.copy(PIPELINE, cwd / PIPELINE.name)
        return [PYTHON, "-m", "dteg.cli", "run", str(cwd / PIPELINE.name), "-q"], env, cwd
    env["PYTHONPATH"] = os.pathsep.join(path)
    script = {"beam_sdk": "beam_sdk_csv.py", "pyarrow": "pyarrow_csv.py"}[variant]
    return ([PYTHON, str(BENCH_DIR / "baselines" / script), "--input", str(data),
             "--output", str(out)], env, cwd)


def run_once(variant: str, trees: dict[str, Path], data: Path, scratch: Path,
             blocker: Path | None, label: str, i: int) -> tuple[benchlib.Measurement, Path]:
    work = scratch / f"{label}-{variant}-{i}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = work / "out.parquet"
    cmd, env, cwd = command(variant, trees, data, out, blocker, scratch / "pycache")
    m = benchlib.measure(cmd, env, work / "log.txt", cwd=cwd)
    if m.returncode != 0:
        raise SystemExit(f"{variant} ({label}) failed:\n{benchlib.log_tail(m.log)}")
    return m, out


def sitting(variants: list[str], trees: dict[str, Path], data: Path, scratch: Path,
            pairs: int, blocker: Path | None, label: str) -> dict[str, float]:
    outputs: dict[str, Path] = {}
    for v in variants:  # warm-up: .pyc files written, output checked
        outputs[v] = run_once(v, trees, data, scratch, blocker, label, -1)[1]
    reference = benchlib.parquet_id_email(outputs[variants[0]])
    for v, out in outputs.items():
        if not benchlib.parquet_id_email(out).equals(reference):
            raise SystemExit(f"{v} wrote other rows or hashes than {variants[0]}")
    wall: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    for i in range(pairs):
        order = variants if i % 2 == 0 else variants[::-1]
        for v in order:
            m, _ = run_once(v, trees, data, scratch, blocker, label, i)
            wall[v].append(m.seconds)
            cpu[v].append(m.cpu_seconds)
    print(f"\n{label}: {reference.num_rows:,} rows written by each; {benchlib.machine_note()}")
    print(f"  {'variant':<10}{'wall median':>12}{'min':>8}{'CPU median':>12}   runs")
    medians = {}
    for v in variants:
        medians[v] = statistics.median(wall[v])
        print(f"  {v:<10}{medians[v]:>11.2f}s{min(wall[v]):>7.2f}s"
              f"{statistics.median(cpu[v]):>11.2f}s   {', '.join(f'{t:.2f}' for t in wall[v])}")
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="an earlier dteg tree to compare with")
    parser.add_argument("--variants", default="dteg,before,beam_sdk,pyarrow")
    parser.add_argument("--no-extras", action="store_true",
                        help="also run every variant as if the cloud extras were missing")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    trees = {"dteg": REPO}
    if args.before:
        trees["before"] = args.before.resolve()
    variants = [v for v in args.variants.split(",") if v != "before" or args.before]
    data, _ = benchlib.ensure_input(args.rows)
    scratch = benchlib.workdir("fixed_cost")
    failed = False
    try:
        setups: list[tuple[str, Path | None]] = [("with the cloud extras", None)]
        if args.no_extras:
            blocker = scratch / "no_extras"
            blocker.mkdir()
            (blocker / "sitecustomize.py").write_text(BLOCKER)
            setups.append(("without the cloud extras", blocker))
        for label, blocker_dir in setups:
            medians = sitting(variants, trees, data, scratch, args.pairs, blocker_dir, label)
            for v in variants:
                if v != "beam_sdk" and "beam_sdk" in medians:
                    ratio = medians[v] / medians["beam_sdk"]
                    mark = "meets" if ratio <= TARGET_VS_BEAM_SDK else "MISSES"
                    print(f"  {v} / beam_sdk = {ratio:.2f}"
                          + (f"  (target ≤ {TARGET_VS_BEAM_SDK}: {mark})" if v == "dteg" else ""))
                    failed |= v == "dteg" and ratio > TARGET_VS_BEAM_SDK
            if "before" in medians:
                print(f"  dteg / before = {medians['dteg'] / medians['before']:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
