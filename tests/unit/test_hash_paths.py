"""The column hasher's two paths agree: the first rows of a stage are hashed in Python
(DuckDB's start-up would cost more than they do), the rest in DuckDB."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest

from dteg.transforms import mask

VALUES = ["a@example.com", "", None, "ünïcode@exämple.org", "x" * 300]


@pytest.mark.parametrize("key", [b"", b"k", b"long-key-" * 20])
def test_python_and_duckdb_hash_the_same(key: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    column = pa.array(VALUES, pa.string())
    in_python = mask.ColumnHasher(key).hash(column)
    monkeypatch.setattr(mask, "SMALL_INPUT", 0)
    in_duckdb = mask.ColumnHasher(key).hash(column)
    assert in_python.to_pylist() == in_duckdb.to_pylist()
    expected = [None if v is None else (
        hmac.new(key, v.encode(), hashlib.sha256).hexdigest() if key
        else hashlib.sha256(v.encode()).hexdigest()) for v in VALUES]
    assert in_python.to_pylist() == expected


def test_a_long_input_moves_to_duckdb_and_stays_there() -> None:
    hasher = mask.ColumnHasher(b"k")
    hasher.hash(pa.array(["a"] * 10, pa.string()))
    assert hasher._con is None  # small: Python
    big = pa.array([str(i) for i in range(mask.SMALL_INPUT)], pa.string())
    out = hasher.hash(big)
    assert hasher._con is not None
    assert out[5].as_py() == hmac.new(b"k", b"5", hashlib.sha256).hexdigest()
