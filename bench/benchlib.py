"""Shared helpers for the dteg benchmarks (not a benchmark itself).

Runs each variant as its own subprocess and measures it: wall time from spawn to exit, and peak
RSS from the kernel's per-child ``rusage`` (``os.wait4``), which is exact for that one process
tree and unaffected by earlier variants (unlike ``getrusage(RUSAGE_CHILDREN)``, whose
``ru_maxrss`` is a running maximum over all children). ``ru_maxrss`` is the largest single
process; a sampler also sums RSS over the whole process tree every 50 ms, in case a variant
spawns worker processes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# The venv whose dteg is measured. `make bench` uses .venv-bench: dteg as `pip install dteg`
# gives it (no cloud extras: Beam imports its GCP/AWS modules whenever they are installed,
# which adds ~0.7 s to every start-up). DTEG_BENCH_VENV overrides.
VENV_BIN = Path(os.environ.get("DTEG_BENCH_VENV", REPO / ".venv")).resolve() / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DTEG = str(VENV_BIN / "dteg")
DATA_DIR = BENCH_DIR / "data"
OUT_DIR = BENCH_DIR / "out"

# Beam YAML's Python extras (apache-beam[yaml]) that dteg's venv does not carry. Installed with
# --no-deps into a side directory that only the Beam YAML subprocess sees (via PYTHONPATH), so
# the benchmark does not change dteg's environment. Versions pinned for repeatable figures.
BEAM_YAML_DEPS_DIR = DATA_DIR / "_beam_yaml_deps"
BEAM_YAML_DEPS = [
    "pandas==2.3.3",  # ReadFromCsv is apache_beam.io.ReadFromCsv (Beam DataFrame API)
    "tzdata==2026.6",
    "docstring-parser==0.18.0",  # imported by apache_beam.yaml.yaml_provider
    "jsonschema==4.26.0",  # pipeline validation in apache_beam.yaml.main
    "jsonschema-specifications==2025.9.1",
    "referencing==0.37.0",
    "rpds-py==2026.9.1",
    "attrs==26.1.0",
]


@dataclass
class Measurement:
    """One subprocess run."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    tree_peak_rss_mb: float
    processes_seen: int
    returncode: int
    log: Path


@dataclass
class VariantResult:
    """All runs of one variant plus the rows it wrote."""

    name: str
    runs: list[Measurement] = field(default_factory=list)
    rows_written: int | None = None
    dead_letters: int | None = None
    output: Path | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(r.cpu_seconds for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max(r.peak_rss_mb for r in self.runs)

    @property
    def tree_peak_rss_mb(self) -> float:
        return max(r.tree_peak_rss_mb for r in self.runs)

    @property
    def processes_seen(self) -> int:
        return max(r.processes_seen for r in self.runs)


def _tree_rss_kb(root: int) -> tuple[int, int]:
    """Sum of VmRSS over ``root`` and its descendants, and how many processes that is."""
    total, count, stack = 0, 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            count += 1
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
    return total, count


def measure(
    cmd: Sequence[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> Measurement:
    """Run ``cmd`` to completion; stdout and stderr go to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    peak_tree = [0, 0]
    done = threading.Event()
    with open(log, "wb") as logf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=logf, stderr=subprocess.STDOUT)

        def sample() -> None:
            while not done.wait(0.05):
                kb, n = _tree_rss_kb(proc.pid)
                peak_tree[0] = max(peak_tree[0], kb)
                peak_tree[1] = max(peak_tree[1], n)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        tree_peak_rss_mb=peak_tree[0] / 1024,
        processes_seen=peak_tree[1],
        returncode=proc.returncode,
        log=log,
    )


def ensure_input(rows: int) -> tuple[Path, dict[str, int]]:
    """Return the cached CSV for ``rows`` rows (generating it if missing) and its meta."""
    path = DATA_DIR / f"orders_{rows}.csv"
    meta_file = path.with_name(path.name + ".meta.json")
    if path.exists() and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("rows") == rows and meta.get("bytes") == path.stat().st_size:
            return path, meta
    print(f"generating {rows:,} rows into {path} ...", file=sys.stderr)
    subprocess.run(
        [PYTHON, str(BENCH_DIR / "gen_csv.py"), "--rows", str(rows), "--out", str(path)],
        check=True,
    )
    return path, json.loads(meta_file.read_text())


def ensure_beam_yaml_deps() -> Path:
    """Install Beam YAML's missing Python extras into ``BEAM_YAML_DEPS_DIR`` once."""
    marker = BEAM_YAML_DEPS_DIR / ".installed"
    wanted = "\n".join(BEAM_YAML_DEPS)
    if marker.exists() and marker.read_text() == wanted:
        return BEAM_YAML_DEPS_DIR
    print(f"installing Beam YAML extras into {BEAM_YAML_DEPS_DIR} ...", file=sys.stderr)
    subprocess.run(
        [PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade",
         "--target", str(BEAM_YAML_DEPS_DIR), *BEAM_YAML_DEPS],
        check=True,
    )
    marker.write_text(wanted)
    return BEAM_YAML_DEPS_DIR


def parquet_rows(path: Path) -> int:
    """Rows in the Parquet output at ``path`` (a file, a directory, or a shard prefix)."""
    import pyarrow.parquet as pq

    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix == ".parquet")
    elif path.exists():
        files = [path]
    else:
        files = sorted(
            p for p in path.parent.glob(path.name + "*")
            if p.is_file() and not p.name.endswith(".jsonl")
        )
    if not files:
        raise FileNotFoundError(f"no Parquet output at {path}")
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def parquet_id_email(path: Path) -> pa.Table:
    """The output's (id, email) columns sorted by id, for comparing variants' contents."""
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else sorted(
        p for p in path.parent.glob(path.name + "*")
        if p.is_file() and not p.name.endswith(".jsonl")
    )
    table = pq.ParquetDataset(files).read(columns=["id", "email"]) if len(files) > 1 else (
        pq.read_table(files[0], columns=["id", "email"]))
    return table.sort_by("id").combine_chunks()


def dteg_available() -> str | None:
    """None if ``dteg run`` looks usable, else the reason it is not."""
    if not Path(DTEG).exists():
        return f"{DTEG} does not exist (package not installed yet)"
    proc = subprocess.run([DTEG, "run", "--help"], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return f"`dteg run --help` exited {proc.returncode}: {tail[0]}"
    return None


def workdir(bench: str) -> Path:
    """A fresh scratch directory for one invocation (the pid keeps concurrent runs apart)."""
    path = OUT_DIR / f"{bench}-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine_note() -> str:
    """CPU count and load average, printed with results: a busy machine skews timings."""
    one, five, _ = os.getloadavg()
    return f"machine: {os.cpu_count()} CPUs, load average {one:.2f} (1 min), {five:.2f} (5 min)"


def fmt_rate(rows: int | None, seconds: float) -> str:
    if rows is None or seconds <= 0:
        return "-"
    return f"{rows / seconds:,.0f}"


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join("    " + t for t in text[-lines:])
