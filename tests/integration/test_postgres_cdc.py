"""`dteg stream` over PostgreSQL logical replication (``postgres_cdc``) on the real server:
inserts, updates and deletes reach DuckDB and PostgreSQL merge sinks exactly; the snapshot is
read once; SIGKILL mid-stream while writes go on loses nothing and the slot never passes what
the sinks committed; a dropped slot, a role without REPLICATION and a server that is gone
each stop with one clear message; zero changes is a normal, successful stream."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from dteg.connectors.postgres_cdc.pgoutput import Decoder, lsn_int
from tests.integration.conftest import PIPELINES

pytestmark = pytest.mark.integration
DTEG = [sys.executable, "-m", "dteg.cli"]


@pytest.fixture
def cdc(pg: Any, postgres_server: dict[str, str]) -> Iterator[Any]:
    """A unique pipeline name; its slots and publications are dropped afterwards (they are
    database-wide, so the schema's drop would leave them)."""
    name = f"cdc_{uuid.uuid4().hex[:8]}"
    pg.name = name
    yield pg
    admin = psycopg.connect(postgres_server["DTEG_POSTGRES_URL"], autocommit=True)
    try:
        admin.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                      "WHERE slot_name LIKE %s AND active_pid IS NOT NULL", (f"%{name}%",))
        deadline = time.monotonic() + 30
        while (admin.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE "
                             "%s AND active", (f"%{name}%",)).fetchone() or (0,))[0]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        admin.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                      "WHERE slot_name LIKE %s", (f"%{name}%",))
        for (pub,) in admin.execute("SELECT pubname FROM pg_publication WHERE pubname LIKE %s",
                                    (f"%{name}%",)).fetchall():
            admin.execute(f'DROP PUBLICATION "{pub}"')
        for (role,) in admin.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                                     (f"%{name}%",)).fetchall():
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
    finally:
        admin.close()


def _pipeline(folder: Path, name: str, table: str, *, sinks: str, snapshot: bool = False,
              url: str = "${env:DTEG_POSTGRES_URL}", extra: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"""
pipeline:
  name: {name}
  steps:
    - extract:
        name: changes
        type: postgres_cdc
        config:
          url: {url}
          tables: [{table}]
          snapshot: {str(snapshot).lower()}
          batch: {{max_records: 2000, max_seconds: 0.2}}
          {extra}
{sinks}
""")
    return path


DUCKDB_SINK = """
    - load:
        name: to_duckdb
        input: changes
        type: duckdb
        config: {database: sink.duckdb, table: items, mode: merge, key: id, order_by: _lsn,
                 delete_column: _op}
"""
POSTGRES_SINK = """
    - load:
        name: to_postgres
        input: changes
        type: postgres
        config: {url: "${env:DTEG_POSTGRES_URL}", table: items_copy, mode: merge, key: id,
                 order_by: _lsn, delete_column: _op}
"""


def _duck(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _source(pg: Any, table: str = "items") -> list[tuple[Any, ...]]:
    return pg.execute(f"SELECT id, name, qty FROM {table} ORDER BY id").fetchall()


def _slot(pg: Any, name: str) -> tuple[int, bool] | None:
    row = pg.execute("SELECT confirmed_flush_lsn::text, active FROM pg_replication_slots "
                     "WHERE slot_name = %s", (f"dteg_{name}_changes",)).fetchone()
    return (lsn_int(row[0]), bool(row[1])) if row else None


def _create_items(pg: Any) -> None:
    pg.execute("CREATE TABLE items (id int PRIMARY KEY, name text, qty int, price numeric(8,2),"
               " seen timestamptz DEFAULT now(), flag boolean)")


def test_changes_reach_duckdb_and_postgres_merge_sinks_exactly(cdc: Any, tmp_path: Path,
                                                                dteg: Any) -> None:
    _create_items(cdc)
    cdc.execute("INSERT INTO items (id, name, qty) VALUES (1, 'before the slot', 1)")
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK + POSTGRES_SINK)
    # First start: creates the publication and the slot; no change yet is a normal stream.
    code, report, out = dteg("stream", str(path), "--max-seconds", "1")
    assert code == 0, out
    assert report["read"] == 0 and report["reconciles"] is True
    assert _slot(cdc, cdc.name) is not None
    assert cdc.execute("SELECT count(*) FROM pg_publication_tables WHERE pubname = %s",
                       (f"dteg_{cdc.name}_changes",)).fetchone()[0] == 1
    changes = 0
    for i in range(2, 202):
        cdc.execute("INSERT INTO items (id, name, qty, price, flag) VALUES (%s, %s, %s, 1.25, "
                    "%s)", (i, f"item {i}", i, i % 2 == 0))
        changes += 1
    with cdc.transaction():  # several changes of one key in one transaction: the last wins
        cdc.execute("UPDATE items SET qty = qty + 1000 WHERE id BETWEEN 2 AND 51")
        cdc.execute("UPDATE items SET name = 'twice' WHERE id BETWEEN 2 AND 11")
        cdc.execute("DELETE FROM items WHERE id BETWEEN 42 AND 61")
        cdc.execute("INSERT INTO items (id, name, qty) VALUES (45, 'back again', 0)")
    changes += 50 + 10 + 20 + 1
    cdc.execute("DELETE FROM items WHERE id = 1")  # a row the slot never saw inserted
    cdc.execute("UPDATE items SET name = NULL WHERE id = 3")
    changes += 2
    code, report, out = dteg("stream", str(path), "--max-records", str(changes))
    assert code == 0, out
    assert report["read"] == changes and report["reconciles"] is True
    expected = _source(cdc)
    assert _duck(tmp_path / "sink.duckdb", "SELECT id, name, qty FROM items ORDER BY id") \
        == expected
    assert _source(cdc, "items_copy") == expected
    ops = dict(_duck(tmp_path / "sink.duckdb", "SELECT id, _op FROM items"))
    assert ops[2] == "update" and ops[45] == "insert" and 1 not in ops
    flags = dict(_duck(tmp_path / "sink.duckdb", "SELECT id, flag FROM items"))
    assert flags[100] is True and flags[101] is False
    # The slot stands at the last change's commit: nothing is waiting.
    lsn, _active = _slot(cdc, cdc.name) or (0, False)
    assert lsn >= max(r[0] for r in _duck(tmp_path / "sink.duckdb", "SELECT _lsn FROM items"))
    code, report, out = dteg("stream", str(path), "--max-seconds", "1")
    assert code == 0 and report["read"] == 0, out


def test_snapshot_loads_existing_rows_once_then_the_changes(cdc: Any, tmp_path: Path,
                                                           dteg: Any) -> None:
    _create_items(cdc)
    cdc.execute("INSERT INTO items (id, name, qty, price) SELECT g, 'old ' || g, g, g / 4.0 "
                "FROM generate_series(1, 500) g")
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK, snapshot=True)
    code, report, out = dteg("stream", str(path), "--max-records", "500")
    assert code == 0, out
    assert report["read"] == 500
    assert _duck(tmp_path / "sink.duckdb", "SELECT count(*), sum(qty), min(_lsn), "
                 "max(_op) FROM items") == [(500, 125250, 0, "insert")]
    marker = json.loads((tmp_path / ".dteg" / "cdc" / f"dteg_{cdc.name}_changes.json")
                        .read_text())
    assert marker["snapshot"] == "done"
    cdc.execute("UPDATE items SET qty = 0 WHERE id <= 10")
    cdc.execute("DELETE FROM items WHERE id > 490")
    code, report, out = dteg("stream", str(path), "--max-records", "20")
    assert code == 0, out
    assert report["read"] == 20  # the changes only: the snapshot is not read again
    assert _duck(tmp_path / "sink.duckdb", "SELECT id, name, qty FROM items ORDER BY id") == \
        _source(cdc)


def test_a_column_added_on_the_source_reaches_the_sink(cdc: Any, tmp_path: Path,
                                                       dteg: Any) -> None:
    _create_items(cdc)
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK)
    assert dteg("stream", str(path), "--max-seconds", "0.5")[0] == 0  # creates the slot
    cdc.execute("INSERT INTO items (id, name, qty) VALUES (1, 'a', 1)")
    cdc.execute("ALTER TABLE items ADD COLUMN color text")
    cdc.execute("INSERT INTO items (id, name, qty, color) VALUES (2, 'b', 2, 'red')")
    cdc.execute("UPDATE items SET color = 'blue' WHERE id = 1")
    code, report, out = dteg("stream", str(path), "--max-records", "3")
    assert code == 0 and report["read"] == 3, out
    assert _duck(tmp_path / "sink.duckdb", "SELECT id, name, color FROM items ORDER BY id") \
        == [(1, "a", "blue"), (2, "b", "red")]


def _peek_ids(admin: Any, slot: str, publication: str) -> set[int]:
    """Ids inserted by the changes a slot still holds (after its confirmed position), read
    from a copy of the slot so the stream's own slot is not touched."""
    copy = f"{slot}_peek"
    # Decoding reads flushed WAL only; the test server commits with synchronous_commit=off,
    # so a commit with it on flushes everything committed before it.
    admin.execute("SET synchronous_commit = on")
    with admin.transaction():
        admin.execute("SELECT pg_logical_emit_message(true, 'dteg-test', 'flush')")
    admin.execute("SELECT pg_copy_logical_replication_slot(%s, %s)", (slot, copy))
    try:
        rows = admin.execute(
            "SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes(%s, NULL, NULL, "
            "'proto_version', '1', 'publication_names', %s)", (copy, publication)).fetchall()
    finally:
        admin.execute("SELECT pg_drop_replication_slot(%s)", (copy,))
    decoder = Decoder()
    ids: set[int] = set()
    for lsn, data in rows:
        txn = decoder.feed(bytes(data), lsn_int(lsn))
        if txn is not None:
            ids |= {int(c.values[0]) for c in txn.changes if c.op == "insert"}
    return ids


class Writer(threading.Thread):
    """Inserts, updates and deletes in small transactions until stopped; remembers the ids
    whose insert committed."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.inserted: list[int] = []
        self.changes = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(18)
        try:
            with psycopg.connect(self.url, autocommit=True) as con:
                next_id = 1
                while not self.stop.is_set():
                    with con.transaction():
                        ids = list(range(next_id, next_id + 5))
                        for i in ids:
                            con.execute("INSERT INTO items (id, name, qty) VALUES (%s, %s, 0)",
                                        (i, f"n{i}"))
                        done = 5
                        if next_id > 50:
                            con.execute("UPDATE items SET qty = qty + 1 WHERE id = %s",
                                        (rng.randrange(1, next_id),))
                            con.execute("DELETE FROM items WHERE id = %s",
                                        (rng.randrange(1, next_id),))
                            done += 2  # at most: a key deleted earlier changes nothing
                    next_id += 5
                    with self.lock:
                        self.inserted += ids
                        self.changes += done
                    time.sleep(0.005)
        except BaseException as exc:  # reported by the test
            self.error = exc


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*DTEG, *args], cwd=cwd, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT, env={**os.environ})


def _wait_advanced(pg: Any, name: str, beyond: int, proc: subprocess.Popen[bytes],
                   log: Path, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        slot = _slot(pg, name)
        if slot is not None and slot[0] > beyond:
            return slot[0]
        assert proc.poll() is None, f"the stream exited early:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)
    raise AssertionError(f"the slot did not advance in {timeout} s:\n{log.read_text()[-3000:]}")


def test_sigkill_mid_stream_while_writes_go_on_loses_nothing(
        cdc: Any, tmp_path: Path, postgres_server: dict[str, str]) -> None:
    _create_items(cdc)
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK)
    log = tmp_path / "stream.log"
    slot, publication = f"dteg_{cdc.name}_changes", f"dteg_{cdc.name}_changes"
    admin = psycopg.connect(postgres_server["DTEG_POSTGRES_URL"], autocommit=True)
    writer = Writer(cdc.url)
    try:
        proc = _start(["stream", str(path)], tmp_path, log)
        created = 0
        deadline = time.monotonic() + 240
        while _slot(cdc, cdc.name) is None:  # the slot exists once the stream is set up
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        created = _slot(cdc, cdc.name)[0]  # type: ignore[index]
        writer.start()
        position = created
        for _kill in range(2):
            # Killed after at least two more micro-batches were confirmed, writes going on.
            position = _wait_advanced(cdc, cdc.name, position, proc, log)
            position = _wait_advanced(cdc, cdc.name, position, proc, log)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            assert proc.returncode == -signal.SIGKILL
            with writer.lock:
                committed_before = set(writer.inserted)
            # The slot never passed what DuckDB committed: every insert is in the sink or
            # still waiting in the slot.
            sunk = {r[0] for r in _duck(tmp_path / "sink.duckdb", "SELECT id FROM items")}
            waiting = _peek_ids(admin, slot, publication)
            deleted = committed_before - {r[0] for r in _source(cdc)}
            missing = committed_before - sunk - waiting - deleted
            assert not missing, f"lost inserts {sorted(missing)[:20]}"
            proc = _start(["stream", str(path)], tmp_path, log)
        position = _wait_advanced(cdc, cdc.name, position, proc, log)
        writer.stop.set()
        writer.join(timeout=60)
        assert writer.error is None, writer.error
        final = cdc.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        _wait_advanced(cdc, cdc.name, lsn_int(final) - 1, proc, log)
        proc.send_signal(signal.SIGTERM)  # the micro-batch in flight commits, then exit 0
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        writer.stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        admin.close()
    print(f"\ncdc crash test: {writer.changes:,} changes, {len(writer.inserted):,} inserts, "
          "SIGKILL twice mid-stream")
    assert writer.changes > 500, "too few changes to exercise the crash"
    # Every change exactly once in the merge sink: it equals the source.
    assert _duck(tmp_path / "sink.duckdb", "SELECT id, name, qty FROM items ORDER BY id") == \
        _source(cdc)
    text = log.read_text()
    assert "counts reconcile" in text and "Traceback" not in text


def test_dropped_slot_is_a_clear_error(cdc: Any, tmp_path: Path, dteg: Any) -> None:
    _create_items(cdc)
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK)
    code, _report, out = dteg("stream", str(path), "--max-seconds", "0.5")
    assert code == 0, out
    cdc.execute("SELECT pg_drop_replication_slot(%s)", (f"dteg_{cdc.name}_changes",))
    code, _report, out = dteg("stream", str(path), "--max-seconds", "0.5")
    assert code == 1
    assert f"replication slot `dteg_{cdc.name}_changes` no longer exists" in out
    assert "To start over, delete" in out and "Traceback" not in out


def test_role_without_replication_is_refused_clearly(cdc: Any, tmp_path: Path, dteg: Any,
                                                     postgres_server: dict[str, str],
                                                     ) -> None:
    _create_items(cdc)
    role = f"r_{cdc.name}"
    cdc.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'secret-pw-1'")
    cdc.execute(f"GRANT USAGE ON SCHEMA {cdc.schema} TO {role}")
    cdc.execute(f"GRANT SELECT ON items TO {role}")
    cdc.execute(f"CREATE PUBLICATION pub_{cdc.name} FOR TABLE items")
    env = postgres_server
    url = (f"postgresql://{role}:secret-pw-1@{env['DTEG_POSTGRES_HOST']}:"
           f"{env['DTEG_POSTGRES_PORT']}/{env['DTEG_POSTGRES_DATABASE']}"
           f"?options=-csearch_path%3D{cdc.schema}")
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK, url=url,
                     extra=f"publication: pub_{cdc.name}")
    code, _report, out = dteg("stream", str(path), "--max-seconds", "0.5")
    assert code == 1, out
    assert f"user `{role}` may not use logical replication" in out
    assert f"ALTER ROLE {role} REPLICATION" in out
    assert "secret-pw-1" not in out and "Traceback" not in out


def test_server_gone_is_a_clear_error(cdc: Any, tmp_path: Path, dteg: Any) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK,
                     url=f"postgresql://dteg:pw-not-shown@127.0.0.1:{port}/dteg_test")
    code, _report, out = dteg("stream", str(path), "--max-seconds", "0.5")
    assert code == 1
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}" in out
    assert "pw-not-shown" not in out and "Traceback" not in out


def test_example_pipeline(cdc: Any, tmp_path: Path, dteg: Any) -> None:
    cdc.execute("CREATE TABLE cdc_customers (id int PRIMARY KEY, email text, tier text)")
    cdc.execute("INSERT INTO cdc_customers SELECT g, 'u' || g || '@example.com', 'free' "
                "FROM generate_series(1, 100) g")
    work = tmp_path / "work"
    shutil.copytree(PIPELINES, work, ignore=shutil.ignore_patterns(".dteg"))
    path = work / "postgres_cdc.yaml"
    # The example's pipeline name is fixed; its slot and publication get this test's name.
    path.write_text(path.read_text().replace("tables: [cdc_customers]",
                                             f"tables: [cdc_customers]\n          slot: "
                                             f"{cdc.name}_slot\n          publication: "
                                             f"{cdc.name}_pub"))
    code, report, out = dteg("stream", str(path), "--max-records", "100")
    assert code == 0, out
    cdc.execute("UPDATE cdc_customers SET tier = 'pro' WHERE id % 10 = 0")
    cdc.execute("DELETE FROM cdc_customers WHERE id > 95")
    code, report, out = dteg("stream", str(path), "--max-records", "15")
    assert code == 0, out
    assert report["read"] == 15 and report["reconciles"] is True
    # `dteg run` reads the changes committed before it started, confirms them and stops.
    cdc.execute("INSERT INTO cdc_customers VALUES (200, 'new@example.com', 'free')")
    cdc.execute("UPDATE cdc_customers SET email = 'changed@example.com' WHERE id = 1")
    code, report, out = dteg("run", str(path))
    assert code == 0, out
    assert report["read"] == 2
    code, report, out = dteg("run", str(path))
    assert code == 0 and report["read"] == 0, out
    assert _duck(work / ".dteg" / "warehouse.duckdb",
                 "SELECT id, email, tier FROM customers_cdc ORDER BY id") == \
        cdc.execute("SELECT id, email, tier FROM cdc_customers ORDER BY id").fetchall()


def test_connector_kit_reads_waiting_changes_without_confirming(cdc: Any,
                                                                tmp_path: Path) -> None:
    from dteg.testing import check_source

    _create_items(cdc)
    config = {"url": cdc.url, "tables": ["items"], "slot": f"{cdc.name}_kit",
              "publication": f"{cdc.name}_kit"}
    table, dead = check_source("postgres_cdc", config, base_dir=tmp_path)  # creates the slot
    assert table.num_rows == 0 and dead.num_rows == 0
    cdc.execute("INSERT INTO items (id, name, qty) SELECT g, 'k', g FROM generate_series(1, 30) g")
    cdc.execute("DELETE FROM items WHERE id <= 3")
    for _ in range(2):  # nothing is confirmed: the same changes again
        table, dead = check_source("postgres_cdc", config, base_dir=tmp_path)
        assert table.num_rows == 33 and dead.num_rows == 0
        assert table.column("_op").to_pylist().count("delete") == 3


def _write_rows(pg: Any, first: int, n: int) -> None:
    pg.execute("INSERT INTO items (id, name, qty) SELECT g, 'w' || g, g FROM "
               f"generate_series({first}, {first + n - 1}) g")


def test_killed_after_the_sinks_committed_is_settled_without_rereading(
        cdc: Any, tmp_path: Path) -> None:
    _create_items(cdc)
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK)
    log = tmp_path / "stream.log"
    assert subprocess.run([*DTEG, "stream", str(path), "--max-seconds", "0.5"], cwd=tmp_path,
                          capture_output=True, timeout=300).returncode == 0
    created = (_slot(cdc, cdc.name) or (0, False))[0]
    _write_rows(cdc, 1, 40)
    # DTEG_FAULT kills the process right after DuckDB committed, before the slot is confirmed.
    first = subprocess.run([*DTEG, "stream", str(path), "--max-records", "40"], cwd=tmp_path,
                           capture_output=True, timeout=300,
                           env={**os.environ, "DTEG_FAULT": "kill_before_offset_commit"})
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert _slot(cdc, cdc.name)[0] == created  # type: ignore[index]
    proc = _start(["stream", str(path), "--max-seconds", "3", "--report-json",
                   str(tmp_path / "r.json")], tmp_path, log)
    assert proc.wait(timeout=300) == 0, log.read_text()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["read"] == 0, log.read_text()  # settled, not read again
    assert "they were committed now" in log.read_text()
    assert (_slot(cdc, cdc.name) or (0, False))[0] > created
    assert _duck(tmp_path / "sink.duckdb", "SELECT count(*) FROM items") == [(40,)]


def test_a_lost_replication_connection_is_retried_and_loses_nothing(
        cdc: Any, tmp_path: Path, postgres_server: dict[str, str]) -> None:
    _create_items(cdc)
    path = _pipeline(tmp_path, cdc.name, "items", sinks=DUCKDB_SINK)
    log = tmp_path / "stream.log"
    admin = psycopg.connect(postgres_server["DTEG_POSTGRES_URL"], autocommit=True)
    proc = _start(["stream", str(path)], tmp_path, log)
    try:
        deadline = time.monotonic() + 240
        while not (_slot(cdc, cdc.name) or (0, False))[1]:  # streaming
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        created = (_slot(cdc, cdc.name) or (0, False))[0]
        _write_rows(cdc, 1, 100)
        position = _wait_advanced(cdc, cdc.name, created, proc, log)
        # The server ends the walsender (as a failover or a restart would).
        admin.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                      "WHERE slot_name = %s", (f"dteg_{cdc.name}_changes",))
        _write_rows(cdc, 101, 100)
        final = lsn_int(cdc.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0])
        _wait_advanced(cdc, cdc.name, max(position, final - 1), proc, log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        admin.close()
    text = log.read_text()
    assert "retrying" in text and "Traceback" not in text, text[-3000:]
    assert _duck(tmp_path / "sink.duckdb", "SELECT count(*), count(DISTINCT id) FROM items") \
        == [(200, 200)]
