"""Portable parity: every bounded example in pipelines/ lands the same rows on the embedded
FnApiRunner, on Prism started by Beam (`--runner prism`) and on the standalone Prism job
server (`--runner portable --job-endpoint`), sorted and compared row by row. Each run
asserts which runner ran; a standalone run must also show up as a job on the server."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any, cast

import duckdb
import fastavro
import grpc
import pyarrow.parquet as pq
import pytest

from tests.integration.conftest import PIPELINES
from tests.integration.prism_service import prism_binary, prism_job_server  # noqa: F401

# Bounded examples that need no external service; the database examples follow below.
EXAMPLES = ["quickstart", "csv_to_parquet", "jsonl_events", "parquet_orders", "avro_orders",
            "duckdb_query", "fan_out", "secure_customers"]
# Values that differ on every run whatever the runner: AES-GCM ciphertext has a random
# nonce (secure_customers_read decrypts it, and its output is compared instead).
_CIPHERTEXT = re.compile(r"dteg:v1:[A-Za-z0-9_-]+:[A-Za-z0-9+/=]+")


def _rows(records: list[dict[str, Any]], workdir: Path) -> list[str]:
    # Dead letters name their source file, which lives in each run's own copy.
    return sorted(_CIPHERTEXT.sub("<ciphertext>", json.dumps(r, sort_keys=True, default=str))
                  .replace(str(workdir), "<workdir>") for r in records)


def _dead_letter_row(row: dict[str, Any]) -> dict[str, Any]:
    # A dead letter names its run; the rest (step, reason, source, record) must agree.
    return {k: v for k, v in row.items() if k not in ("run_id", "at", "failed_at")}


def _file_rows(path: Path) -> list[dict[str, Any]]:
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if name.endswith(".avro"):
        with open(path, "rb") as fh:
            return [cast(dict[str, Any], r) for r in fastavro.reader(fh)]
    if name.endswith(".csv.gz"):
        with gzip.open(path, "rt", newline="") as fh:
            return list(csv.DictReader(fh))
    if name.endswith(".csv"):
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))
    raise AssertionError(f"no reader for {path}")


def snapshot(workdir: Path) -> dict[str, list[str]]:
    """What a run landed: every output file's rows (files of one folder together: part
    names differ by run), every DuckDB table, every dead letter; each sorted."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((workdir / "out").rglob("*")) if (workdir / "out").exists() else []:
        if path.is_file() and not path.name.startswith("."):
            key = str(path.parent.relative_to(workdir)) if path.parent != workdir / "out" \
                else str(path.relative_to(workdir))
            out.setdefault(key, []).extend(_file_rows(path))
    dteg = workdir / ".dteg"
    for path in sorted(dteg.glob("*.duckdb")):
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables"
                                 " WHERE table_type = 'BASE TABLE'").fetchall()
            for schema, table in tables:
                cur = con.execute(f'SELECT * FROM "{schema}"."{table}"')
                names = [d[0] for d in cur.description]
                rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
                if table == "dead_letters":
                    rows = [_dead_letter_row(r) for r in rows]
                out[f"{path.name}:{schema}.{table}"] = rows
        finally:
            con.close()
    for path in sorted((dteg / "dead_letter").rglob("*.jsonl")):
        out.setdefault(f"dead_letter/{path.parent.name}", []).extend(
            _dead_letter_row(r) for r in _file_rows(path))
    return {key: _rows(rows, workdir) for key, rows in out.items()}


def _fresh(tmp_path: Path, label: str) -> Path:
    target = tmp_path / label / "pipelines"
    shutil.copytree(PIPELINES, target, ignore=shutil.ignore_patterns(".dteg", "out"))
    return target


def _run(run_pipeline: Any, path: Path, *runner_args: str) -> dict[str, Any]:
    code, report, out = run_pipeline(path, *runner_args)
    assert code == 0, out
    assert report is not None
    return report


def _recorded_runners(workdir: Path) -> set[str]:
    """The runners the run records of ``workdir`` (.dteg/runs.sqlite) name."""
    con = sqlite3.connect(workdir / ".dteg" / "runs.sqlite")
    try:
        return {r[0] for r in con.execute("SELECT runner FROM runs")}
    finally:
        con.close()


def _jobs(endpoint: str) -> set[str]:
    """The names of the jobs the job server at ``endpoint`` ran (Beam's Job API, GetJobs);
    dteg names a job ``dteg-<pipeline>-<run id>`` in its options (PortableRunner sends every
    job as `job`)."""
    from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc

    with grpc.insecure_channel(endpoint) as channel:
        stub = beam_job_api_pb2_grpc.JobServiceStub(channel)
        reply = stub.GetJobs(beam_job_api_pb2.GetJobsRequest(), timeout=60)
        names = (job.pipeline_options.fields.get("beam:option:job_name:v1")
                 for job in reply.job_info)
        return {name.string_value for name in names if name is not None}


def _ran_on(endpoint: str, report: dict[str, Any]) -> bool:
    return f"dteg-{report['pipeline']}-{report['run_id']}" in _jobs(endpoint)


def _runner_args(mode: str, binary: str, endpoint: str) -> tuple[str, ...]:
    if mode == "prism":
        return ("--runner", "prism", "--prism-location", binary)
    return ("--runner", "portable", "--job-endpoint", endpoint)


def _compare(base: dict[str, list[str]], other: dict[str, list[str]], mode: str) -> None:
    assert set(other) == set(base), f"{mode} wrote other outputs"
    for key, rows in base.items():
        assert rows, f"the embedded run landed nothing in {key}"
        assert len(other[key]) == len(rows), f"{mode}: {key} row count"
        for i, (want, got) in enumerate(zip(rows, other[key], strict=True)):
            assert got == want, f"{mode}: {key} row {i} differs"


# One embedded run per example, shared by both Prism modes (keeps the CI time down).
_BASELINES: dict[str, tuple[dict[str, Any], list[dict[str, list[str]]]]] = {}


def _baseline(name: str, tmp_path: Path, run_pipeline: Any
              ) -> tuple[dict[str, Any], list[dict[str, list[str]]]]:
    if name not in _BASELINES:
        base_dir = _fresh(tmp_path, "direct")
        report = _run(run_pipeline, base_dir / f"{name}.yaml")
        assert report["runner"] == "direct"
        snapshots = [snapshot(base_dir)]
        if name == "secure_customers":
            assert _run(run_pipeline, base_dir / "secure_customers_read.yaml")["runner"] == \
                "direct"
            snapshots.append(snapshot(base_dir))
        _BASELINES[name] = (report, snapshots)
    return _BASELINES[name]


@pytest.mark.parametrize("mode", ["prism", "portable"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_lands_the_same_rows_on_prism(
        name: str, mode: str, tmp_path: Path, run_pipeline: Any, prism_binary: str,  # noqa: F811
        prism_job_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.delenv("DTEG_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("DTEG_MASKING_KEY", raising=False)
    endpoint = prism_job_server["DTEG_PRISM_JOB_ENDPOINT"]
    assert endpoint.startswith("127.0.0.1:")
    base, base_snapshots = _baseline(name, tmp_path, run_pipeline)

    other_dir = _fresh(tmp_path, mode)
    report = _run(run_pipeline, other_dir / f"{name}.yaml",
                  *_runner_args(mode, prism_binary, endpoint))
    assert report["runner"] == mode
    assert _recorded_runners(other_dir) == {mode}
    # In-process Prism is a job server of its own: the shared one never saw the run; a
    # portable run was a job on the shared server.
    assert _ran_on(endpoint, report) == (mode == "portable")
    assert report["reconciles"] is True
    for field in ("read", "loaded", "dead_lettered", "filtered"):
        assert report.get(field) == base.get(field), field
    _compare(base_snapshots[0], snapshot(other_dir), mode)
    if name == "secure_customers":
        # Ciphertext differs run to run: decrypt both and compare the plain rows.
        _run(run_pipeline, other_dir / "secure_customers_read.yaml",
             *_runner_args(mode, prism_binary, endpoint))
        _compare(base_snapshots[1], snapshot(other_dir), mode)


def _orders_copy(pg: Any) -> list[tuple[Any, ...]]:
    return list(pg.execute("SELECT * FROM orders_copy ORDER BY id").fetchall())


def test_postgres_incremental_lands_the_same_rows_on_prism(
        pg: Any, tmp_path: Path, run_pipeline: Any, prism_binary: str) -> None:  # noqa: F811
    """The PostgreSQL example (full load, then an incremental run) on Prism in-process:
    the merge target matches the embedded run's row by row."""
    pg.execute("CREATE TABLE shop_orders (id bigint PRIMARY KEY, customer text, "
               "amount numeric(10,2), updated_at timestamp NOT NULL)")
    pg.execute("INSERT INTO shop_orders SELECT g, 'c' || g, g * 1.5, "
               "timestamp '2024-01-01' + g * interval '1 minute' FROM generate_series(1, 300) g")
    base_dir = _fresh(tmp_path, "direct")
    base = _run(run_pipeline, base_dir / "postgres_incremental.yaml")
    assert (base["runner"], base["read"], base["loaded"]) == ("direct", 300, 300)
    expected = _orders_copy(pg)
    pg.execute("DROP TABLE orders_copy")

    prism_dir = _fresh(tmp_path, "prism")
    path = prism_dir / "postgres_incremental.yaml"
    args = ("--runner", "prism", "--prism-location", prism_binary)
    report = _run(run_pipeline, path, *args)
    assert (report["runner"], report["read"], report["loaded"]) == ("prism", 300, 300)
    got = _orders_copy(pg)
    assert len(got) == len(expected) == 300
    for i, (want, row) in enumerate(zip(expected, got, strict=True)):
        assert row == want, f"orders_copy row {i} differs"
    # The incremental run on Prism reads only what changed since its own first run.
    pg.execute("UPDATE shop_orders SET amount = -1, updated_at = timestamp '2030-01-01' "
               "WHERE id IN (1, 2)")
    report = _run(run_pipeline, path, *args)
    assert (report["runner"], report["read"], report["loaded"]) == ("prism", 2, 2)
    assert pg.execute("SELECT count(*), sum(CASE WHEN amount = -1 THEN 1 ELSE 0 END) "
                      "FROM orders_copy").fetchone() == (300, 2)
    assert _recorded_runners(prism_dir) == {"prism"}


def test_mysql_incremental_lands_the_same_rows_on_the_prism_job_server(
        my: Any, tmp_path: Path, run_pipeline: Any,
        prism_job_server: dict[str, str]) -> None:  # noqa: F811
    """The MariaDB example on the standalone Prism job server (`--runner portable`): the
    merge target matches the embedded run's row by row."""
    cur = my.cursor()
    cur.execute("CREATE TABLE shop_customers (id BIGINT PRIMARY KEY, name VARCHAR(40), "
                "balance DECIMAL(10,2), active BOOLEAN, joined DATETIME(6), note TEXT)")
    cur.executemany("INSERT INTO shop_customers VALUES (%s, %s, %s, %s, %s, %s)", [
        (i, f"name {i}", i * 2.5, i % 2 == 0, f"2024-01-01 00:00:{i % 60:02d}.123456",
         None if i % 3 else "x" * 300) for i in range(1, 201)])

    def copied() -> list[tuple[Any, ...]]:
        cur.execute("SELECT * FROM customers_copy ORDER BY id")
        return list(cur.fetchall())

    base = _run(run_pipeline, _fresh(tmp_path, "direct") / "mysql_incremental.yaml")
    assert (base["runner"], base["read"], base["loaded"]) == ("direct", 200, 200)
    expected = copied()
    cur.execute("DROP TABLE customers_copy")
    endpoint = prism_job_server["DTEG_PRISM_JOB_ENDPOINT"]
    other_dir = _fresh(tmp_path, "portable")
    report = _run(run_pipeline, other_dir / "mysql_incremental.yaml",
                  "--runner", "portable", "--job-endpoint", endpoint)
    assert (report["runner"], report["read"], report["loaded"]) == ("portable", 200, 200)
    assert _ran_on(endpoint, report)
    got = copied()
    assert len(got) == len(expected) == 200
    for i, (want, row) in enumerate(zip(expected, got, strict=True)):
        assert row == want, f"customers_copy row {i} differs"
    assert _recorded_runners(other_dir) == {"portable"}
