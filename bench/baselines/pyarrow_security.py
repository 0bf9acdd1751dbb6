"""Baseline of bench/security_pipeline.py: the same job hand-written with pyarrow and
cryptography.

What a competent engineer writes without a framework: stream the CSV with
``pyarrow.csv.open_csv``; keep rows whose id and email are not null and whose email
full-matches the pattern (``pyarrow.compute``); replace ``email`` and ``phone`` with hex
HMAC-SHA256 (``hmac``, per value: pyarrow has no SHA-256); replace ``name`` with AES-256-GCM
ciphertext per value (random 96-bit nonce, ``cryptography``'s AESGCM), written in dteg's
format ``dteg:v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`` with the key derived the same way
(HKDF-SHA256), so dteg can decrypt it; append to one ``ParquetWriter``. Rejected rows go to a
JSONL beside the output, protected the same way (as dteg does with dead letters).

    BENCH_MASK_KEY=k BENCH_ENCRYPTION_KEY=e python bench/baselines/pyarrow_security.py \
        --input in.csv --output out.parquet
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

EMAIL_PATTERN = r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$"
KEY_ID = "b1"


def _hash(key: bytes, values: list[str | None]) -> pa.Array:
    return pa.array([None if v is None else hmac.digest(key, v.encode(), "sha256").hex()
                     for v in values], pa.string())


def _encrypt(aes: AESGCM, values: list[str | None]) -> pa.Array:
    head = f"dteg:v1:{KEY_ID}:"
    aad = head[:-1].encode()
    nonces = os.urandom(12 * len(values))
    out = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        nonce = nonces[12 * i:12 * i + 12]
        out.append(head + base64.b64encode(nonce + aes.encrypt(nonce, v.encode(), aad)).decode())
    return pa.array(out, pa.string())


def run(input_path: str, output_path: str, mask_key: bytes, encryption_key: bytes) -> int:
    """Run the job; return the number of rows written to ``output_path``."""
    aes = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                      info=b"dteg:v1:aes-256-gcm").derive(encryption_key))
    reader = pacsv.open_csv(
        input_path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    schema = reader.schema
    names = schema.names
    out_schema = pa.schema([pa.field(n, pa.string()) if n in ("email", "phone", "name")
                            else schema.field(n) for n in names])
    written = 0
    with (
        pq.ParquetWriter(output_path, out_schema) as writer,
        open(output_path + ".rejected.jsonl", "w", encoding="utf-8") as rejected,
    ):
        for batch in reader:
            email = batch.column("email")
            ok = pc.and_kleene(
                pc.and_kleene(pc.is_valid(batch.column("id")), pc.is_valid(email)),
                pc.match_substring_regex(email, EMAIL_PATTERN),
            )
            ok = pc.fill_null(ok, False)
            for row in batch.filter(pc.invert(ok)).to_pylist():  # dead letters, protected
                for column in ("email", "phone"):
                    if row[column] is not None:
                        row[column] = hmac.digest(mask_key, row[column].encode(), "sha256").hex()
                row["name"] = _encrypt(aes, [row["name"]])[0].as_py()
                rejected.write(json.dumps(row, default=str) + "\n")
            kept = batch.filter(ok)
            columns = {
                "email": _hash(mask_key, kept.column("email").to_pylist()),
                "phone": _hash(mask_key, kept.column("phone").to_pylist()),
                "name": _encrypt(aes, kept.column("name").to_pylist()),
            }
            arrays = [columns.get(n, kept.column(n)) for n in names]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=out_schema))
            written += kept.num_rows
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    run(args.input, args.output, os.environ["BENCH_MASK_KEY"].encode(),
        os.environ["BENCH_ENCRYPTION_KEY"].encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
