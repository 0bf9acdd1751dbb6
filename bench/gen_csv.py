"""Deterministic generator of a realistic orders/customers CSV for the dteg benchmarks.

Not a benchmark itself: it produces the input that ``csv_pipeline.py`` and ``memory_flat.py``
feed to dteg and to the baselines (Beam YAML, hand-written pyarrow).

Columns: id (int), email (string; ~2 % invalid formats, ~1 % empty), name, phone, country,
amount (float; ~3 % negative refunds), created_at (ISO-8601 UTC timestamp).
About 100 bytes per row, so 1M rows ≈ 100 MB. Output is identical for the same ``--rows`` and
``--seed`` (each chunk has its own seeded generator), and an N-row file is a prefix of any
larger one. Rows are built column-wise with numpy and
``pyarrow.compute`` and streamed to disk chunk by chunk, so memory stays small for 10M+ rows.

A side file ``<out>.meta.json`` records the row count and how many rows a validator using the
benchmark's rules (id and email not null, email full-matching ``EMAIL_PATTERN``) should accept.

    python bench/gen_csv.py --rows 1000000 --out bench/data/orders_1000000.csv
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

EMAIL_PATTERN = r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$"
CHUNK_ROWS = 100_000
DEFAULT_SEED = 20261126

FIRST = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Minjun", "Seoyeon", "Jiho", "Haeun", "Hiroshi", "Yuki", "Wei", "Fang", "Lukas", "Sofia",
    "Mateo", "Camila", "Noah", "Emma", "Oliver", "Amelia", "Arjun", "Priya", "Omar", "Fatima",
]
LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Kim", "Lee", "Park", "Choi", "Tanaka", "Suzuki", "Wang", "Li", "Zhang", "Muller",
    "Schmidt", "Rossi", "Silva", "Santos", "Nguyen", "Tran", "Patel", "Singh", "Khan", "Cohen",
]
DOMAINS = [
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "naver.com", "kakao.com",
    "example.org", "company.co.kr", "mail.de", "proton.me", "icloud.com", "corp-example.io",
]
# No "NA" (Namibia): CSV readers turn it into null.
COUNTRIES = ["US", "KR", "JP", "DE", "GB", "FR", "IN", "BR", "CA", "AU", "ES", "IT", "MX", "SG"]
# Each fails the email pattern (full match): no "@", no TLD, 1-char TLD, space, "@@", no local.
INVALID_TEMPLATES = [
    ("", ".", ".example.com"),
    ("", "@", ".example"),
    ("", "@", ".mail.c"),
    ("", " ", "@gmail.com"),
    ("", "@@", ".gmail.com"),
    ("@", "", ".outlook.com"),
]

START_TS = 1_704_067_200  # 2024-01-01T00:00:00Z
SPAN_S = 2 * 365 * 24 * 3600


def _pick(rng: np.random.Generator, values: list[str], n: int) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(rng.integers(0, len(values), n)))


def _digits(rng: np.random.Generator, n: int, low: int, high: int, width: int) -> pa.Array:
    nums = pc.cast(pa.array(rng.integers(low, high, n)), pa.string())
    return pc.utf8_lpad(nums, width=width, padding="0")


def make_chunk(start_id: int, n: int, chunk_index: int, seed: int) -> pa.RecordBatch:
    """Build rows ``start_id .. start_id+n-1`` deterministically from ``(seed, chunk_index)``."""
    rng = np.random.default_rng([seed, chunk_index])
    first = _pick(rng, FIRST, n)
    last = _pick(rng, LAST, n)
    name = pc.binary_join_element_wise(first, last, " ")

    lower_first = pc.utf8_lower(first)
    lower_last = pc.utf8_lower(last)
    suffix = pc.cast(pa.array(rng.integers(1, 1000, n)), pa.string())
    style = rng.integers(0, 3, n)
    local_dot = pc.binary_join_element_wise(lower_first, lower_last, ".")
    local_num = pc.binary_join_element_wise(lower_first, lower_last, suffix, "")
    local_init = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(lower_first, 0, 1), lower_last, suffix, "_"
    )
    local = pc.if_else(
        pa.array(style == 0), local_dot, pc.if_else(pa.array(style == 1), local_num, local_init)
    )
    domain = _pick(rng, DOMAINS, n)
    email = pc.binary_join_element_wise(local, domain, "@")

    # ~2 % invalid formats, ~1 % empty (null -> empty CSV field).
    kind = rng.random(n)
    invalid_mask = (kind >= 0.01) & (kind < 0.03)
    if invalid_mask.any():
        tmpl = rng.integers(0, len(INVALID_TEMPLATES), n)
        bad_values = []
        local_py = local.to_pylist()
        last_py = lower_last.to_pylist()
        for i in np.flatnonzero(invalid_mask):
            prefix, sep, tail = INVALID_TEMPLATES[tmpl[i]]
            bad_values.append(f"{prefix}{local_py[i]}{sep}{last_py[i]}{tail}")
        email_list = email.to_pylist()
        for i, v in zip(np.flatnonzero(invalid_mask), bad_values, strict=True):
            email_list[i] = v
        email = pa.array(email_list, pa.string())
    email = pc.if_else(pa.array(kind < 0.01), pa.scalar(None, pa.string()), email)

    phone = pc.binary_join_element_wise(
        pa.array(["+1"] * n),
        _digits(rng, n, 200, 1000, 3),
        _digits(rng, n, 0, 1000, 3),
        _digits(rng, n, 0, 10000, 4),
        "-",
    )
    country = _pick(rng, COUNTRIES, n)
    amount = np.round(rng.lognormal(3.5, 1.1, n), 2)
    amount = np.where(rng.random(n) < 0.03, -amount, amount)
    ts = pa.array(START_TS + rng.integers(0, SPAN_S, n), pa.int64()).cast(
        pa.timestamp("s", tz="UTC")
    )
    created_at = pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ")
    ids = pa.array(np.arange(start_id, start_id + n, dtype=np.int64))
    return pa.RecordBatch.from_arrays(
        [ids, email, name, phone, country, pa.array(amount), created_at],
        names=["id", "email", "name", "phone", "country", "amount", "created_at"],
    )


def count_valid(batch: pa.RecordBatch) -> int:
    """Rows the benchmark's validate step accepts (RE2 agrees with Python ``re`` here)."""
    email = batch.column("email")
    ok = pc.and_kleene(
        pc.and_kleene(pc.is_valid(batch.column("id")), pc.is_valid(email)),
        pc.match_substring_regex(email, EMAIL_PATTERN),
    )
    return int(pc.sum(pc.fill_null(ok, False)).as_py() or 0)


def generate(rows: int, out: Path, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Write ``rows`` rows to ``out`` (atomically, via a temp file) plus ``<out>.meta.json``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    valid = 0
    opts = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    with pacsv.CSVWriter(str(tmp), make_chunk(0, 1, 0, seed).schema, write_options=opts) as w:
        written = 0
        chunk_index = 0
        while written < rows:
            n = min(CHUNK_ROWS, rows - written)
            # Always draw a full chunk, so an N-row file is a prefix of every larger one.
            batch = make_chunk(written + 1, CHUNK_ROWS, chunk_index, seed).slice(0, n)
            valid += count_valid(batch)
            w.write_batch(batch)
            written += n
            chunk_index += 1
    os.replace(tmp, out)
    meta = {"rows": rows, "expected_valid": valid, "seed": seed, "bytes": out.stat().st_size}
    meta_path(out).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def meta_path(out: Path) -> Path:
    """Where the side file with row counts for ``out`` lives."""
    return out.with_name(out.name + ".meta.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    meta = generate(args.rows, args.out, args.seed)
    dt = time.perf_counter() - t0
    print(
        f"wrote {meta['rows']:,} rows ({meta['bytes'] / 1e6:.1f} MB, "
        f"{meta['bytes'] / max(meta['rows'], 1):.0f} B/row, {meta['expected_valid']:,} valid) "
        f"to {args.out} in {dt:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
