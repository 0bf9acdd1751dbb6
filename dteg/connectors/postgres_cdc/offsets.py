"""Which changes a micro-batch reads, and confirming them to the replication slot.

The planner keeps the replication stream open: each ``plan`` pulls what the server has sent
(without waiting), decodes whole transactions and offers them, oldest first, as one range
``[position, end)`` of commit LSNs with its changes spooled to an Arrow file the source reads.
The slot's confirmed flush LSN moves only in ``commit_positions``, which the launcher calls
once every sink committed; a crash re-reads from the slot's position (nothing acknowledged is
lost). A restart asks the server for the changes after the slot's position; transactions at or
before where this process already stands are dropped, so nothing is handed out twice.

The snapshot (``snapshot: true``) is read once, on the first start, through the snapshot the
slot exported when it was created, so it holds exactly the rows before the slot's first
change; it is the first micro-batch, at the virtual range [created − 1, created). A marker in
the pipeline's state folder says whether it was committed; a stream killed before that finds
the marker pending and starts over with a new slot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.files import read_json, write_json_atomic
from dteg.connectors.postgres_cdc import client
from dteg.connectors.postgres_cdc.config import SourceConfig
from dteg.connectors.postgres_cdc.pgoutput import (
    Change,
    Decoder,
    Relation,
    Transaction,
    lsn_int,
    lsn_text,
    to_batches,
)
from dteg.errors import ConnectorError

Partition = tuple[str, int]
# Decoded changes kept waiting at most (the stream is not read further meanwhile, so the
# server holds the rest: memory stays bounded whatever the write rate).
BUFFER_LIMIT_FACTOR = 4
CONFIRM_TIMEOUT = 30.0


@dataclass(frozen=True)
class CdcRange:
    """Commit LSNs [start, end) of one slot, with the spool file holding their changes."""

    slot: str
    start: int
    end: int
    records: int
    spool: str

    def to_json(self) -> list[Any]:
        return [self.slot, 0, self.start, self.end, self.spool, self.records]

    @classmethod
    def from_json(cls, data: list[Any]) -> CdcRange:
        return cls(str(data[0]), int(data[2]), int(data[3]), int(data[5]), str(data[4]))

    def label(self) -> str:
        return f"slot {self.slot} {lsn_text(self.start)}..{lsn_text(self.end)}"


@dataclass
class Plan:
    planner: CdcPlanner
    transactions: list[Transaction]
    start: int
    end: int
    high: dict[Partition, int] = field(default_factory=dict)
    finished: bool = False
    _spooled: CdcRange | None = None

    @property
    def records(self) -> int:
        return sum(len(t.changes) for t in self.transactions)

    def ends(self) -> dict[Partition, int]:
        return {(self.planner.slot, 0): self.end} if self.transactions else {}

    def ranges_json(self) -> list[Any]:
        if not self.transactions:
            return []
        if self._spooled is None:  # written once, when a run is about to read it
            self._spooled = self.planner.spool(self)
        return [self._spooled.to_json()]


class CdcPlanner:
    """Plans micro-batches of one ``postgres_cdc`` step and confirms them to its slot."""

    def __init__(self, config: SourceConfig, *, pipeline: str, step: str,
                 state_dir: Path | None = None, spool_dir: Path | None = None) -> None:
        self.config = config
        self.step = step
        self.endpoint = config.endpoint()
        self.publication, self.slot = config.names(pipeline, step)
        self.marker = (state_dir / "cdc" / f"{self.slot}.json") if state_dir else None
        self.setup: Any = None
        self.stream: Any = None
        self.cursor: Any = None
        self.decoder = Decoder()
        self.buffer: list[Transaction] = []
        self.snapshot: Transaction | None = None
        self.position = 0  # commit LSN up to which changes are in every sink (or planned)
        self.confirmed = 0  # what the slot was told
        self.until: int | None = None
        # Spooled changes live as long as this planner (a process's stream or run), unless
        # the caller keeps them elsewhere (library use reads them after the planner closed).
        self.own_spool = spool_dir is None
        self.spool_dir = spool_dir or Path(tempfile.mkdtemp(prefix="dteg-cdc-"))
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._last_feedback = 0.0

    # --- connection ---------------------------------------------------------------------

    def _fail(self, exc: BaseException, doing: str) -> ConnectorError:
        return client.error(exc, self.endpoint, self.step, doing)

    def _sql(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        cur = self.setup.cursor()
        try:
            cur.execute(sql, args)
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def connect(self) -> None:
        """Check the server, create the publication and the slot if missing (taking the
        snapshot if asked), and start streaming from the slot's position."""
        timeout = self.config.connect_timeout
        self.setup = client.connect(self.endpoint, self.step, timeout)
        try:
            self._check_server()
            self._ensure_publication()
            self._ensure_slot()
            self._start_stream()
        except ConnectorError:
            self.close_connections()
            raise
        except Exception as exc:
            self.close_connections()
            raise self._fail(exc, "setting up change data capture") from None

    def _check_server(self) -> None:
        level = self._sql("SHOW wal_level")[0][0]
        if level != "logical":
            raise ConnectorError(
                f"PostgreSQL at {self.endpoint.host}:{self.endpoint.port} runs with "
                f"wal_level = {level}; change data capture needs `logical`", step=self.step,
                hint="Set wal_level = logical in postgresql.conf (and max_replication_slots, "
                "max_wal_senders ≥ 1) and restart the server.")
        for table in self.config.tables:
            if self._sql("SELECT to_regclass(%s)", (table,))[0][0] is None:
                raise ConnectorError(f"table `{table}` does not exist in database "
                                     f"`{self.endpoint.database}`", step=self.step,
                                     hint="Fix `tables:` (schema.table, case-sensitive).")

    def _ensure_publication(self) -> None:
        if self._sql("SELECT 1 FROM pg_publication WHERE pubname = %s", (self.publication,)):
            return
        from psycopg2 import sql

        tables = sql.SQL(", ").join(
            sql.Identifier(*t.split(".")) for t in self.config.tables)
        cur = self.setup.cursor()
        try:
            cur.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                sql.Identifier(self.publication), tables))
        except Exception as exc:
            raise self._fail(exc, f"creating publication {self.publication}") from None
        finally:
            cur.close()

    def _slot_row(self) -> tuple[Any, ...] | None:
        rows = self._sql("SELECT confirmed_flush_lsn::text, plugin FROM pg_replication_slots "
                         "WHERE slot_name = %s AND database = current_database()", (self.slot,))
        return rows[0] if rows else None

    def _ensure_slot(self) -> None:
        marker = read_json(self.marker) if self.marker and self.marker.exists() else None
        row = self._slot_row()
        if row is not None and isinstance(marker, dict) and marker.get("snapshot") == "pending":
            # Killed before the snapshot's micro-batch committed: that snapshot is gone with
            # its transaction; a new slot takes a new one (merge sinks stay exact).
            self._sql("SELECT pg_drop_replication_slot(%s)", (self.slot,))
            row = None
        elif row is None and isinstance(marker, dict) and marker.get("snapshot") != "pending":
            raise ConnectorError(
                f"replication slot `{self.slot}` no longer exists on "
                f"{self.endpoint.host}:{self.endpoint.port} (it was created for this step at "
                f"{marker.get('created')}); changes since its last confirmed position are lost "
                "to this pipeline", step=self.step,
                hint=f"To start over, delete {self.marker} (and set `snapshot: true` to reload "
                "the tables); dteg then creates a new slot.")
        if row is not None:
            if row[1] != "pgoutput":
                raise ConnectorError(
                    f"replication slot `{self.slot}` uses the plugin `{row[1]}`; dteg reads "
                    "pgoutput", step=self.step, hint="Name another `slot:`.")
            # A reconnect keeps where this process stands (advanced, maybe not yet confirmed).
            self.confirmed = lsn_int(row[0])
            self.position = max(self.position, self.confirmed)
            return
        self._create_slot()

    def _create_slot(self) -> None:
        stream = client.connect(self.endpoint, self.step, self.config.connect_timeout,
                                replication=True)
        cur = stream.cursor()
        try:
            cur.execute(f'CREATE_REPLICATION_SLOT "{self.slot}" LOGICAL pgoutput'
                        + ("" if self.config.snapshot else " NOEXPORT_SNAPSHOT"))
            _name, point, snapshot, _plugin = cur.fetchone()
        except Exception as exc:
            stream.close()
            raise self._fail(exc, f"creating replication slot {self.slot}") from None
        created = lsn_int(point)
        self.position = self.confirmed = created
        if self.config.snapshot:
            self._write_marker(point, "pending")
            try:
                self.snapshot = self._read_snapshot(snapshot, created)
            finally:
                stream.close()  # the exported snapshot lives until here
            self.position = created - 1
        else:
            stream.close()
            self._write_marker(point, "none")

    def _write_marker(self, created: str, snapshot: str) -> None:
        if self.marker is not None:
            write_json_atomic(self.marker, {"slot": self.slot, "created": created,
                                            "snapshot": snapshot}, durable=True)

    def _read_snapshot(self, name: str, created: int) -> Transaction:
        txn = Transaction(xid=0, begin_lsn=created - 1, commit_ts_us=client_now_us(),
                          end_lsn=created)
        con = self.setup
        con.autocommit = False
        con.set_session(isolation_level="REPEATABLE READ")
        cur = con.cursor()
        try:
            cur.execute("SET TRANSACTION SNAPSHOT %s", (name,))
            for table in self.config.tables:
                relid = self._table_relation(cur, table)
                rel = self.decoder.relations[relid]
                select = ", ".join('"' + c[0].replace('"', '""') + '"::text'
                                   for c in rel.columns)
                named = self.setup.cursor(name="dteg_snapshot")
                named.itersize = self.config.batch_rows
                named.execute(f"SELECT {select} FROM {_quoted(table)}")
                for values in named:
                    txn.changes.append(Change("insert", relid, list(values), 0))
                named.close()
            con.commit()
        except Exception as exc:
            raise self._fail(exc, "reading the snapshot") from None
        finally:
            cur.close()
            with contextlib.suppress(Exception):
                con.rollback()
                con.autocommit = True
        return txn

    def _table_relation(self, cur: Any, table: str) -> int:
        cur.execute("SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)", (table,))
        relid, schema, name = cur.fetchone()
        cur.execute("SELECT attname, atttypid, atttypmod FROM pg_attribute WHERE attrelid = %s "
                    "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (relid,))
        columns = [(str(n), int(o), int(m)) for n, o, m in cur.fetchall()]
        self.decoder.relations[relid] = Relation(relid, schema, name, columns, [])
        return int(relid)

    def _start_stream(self) -> None:
        self.stream = client.connect(self.endpoint, self.step, self.config.connect_timeout,
                                     replication=True)
        self.cursor = self.stream.cursor()
        self.decoder = Decoder() if self.snapshot is None else self.decoder
        try:
            self.cursor.start_replication(
                slot_name=self.slot, decode=False, start_lsn=lsn_text(self.confirmed),
                options={"proto_version": "1", "publication_names": self.publication},
                status_interval=10)
        except Exception as exc:
            text = str(exc)
            if "does not exist" in text and "slot" in text:
                raise ConnectorError(
                    f"replication slot `{self.slot}` was dropped on {self.endpoint.host}:"
                    f"{self.endpoint.port} while the stream ran: {client.first_line(exc)}",
                    step=self.step, hint="Changes since the last committed LSN are lost to "
                    "this pipeline; to start over delete the slot's marker "
                    f"({self.marker}) and restart (with `snapshot: true` to reload).") from None
            if "is active for pid" in text:
                raise ConnectorError(
                    f"replication slot `{self.slot}` is in use by another process: "
                    f"{client.first_line(exc)}", step=self.step, retriable=True,
                    hint="Stop the other reader of this slot (or name another `slot:`).") \
                    from None
            raise self._fail(exc, f"starting replication from slot {self.slot}") from None

    def close_connections(self) -> None:
        for con in (self.stream, self.setup):
            if con is not None:
                with contextlib.suppress(Exception):
                    con.close()
        self.stream = self.setup = self.cursor = None

    def close(self) -> None:
        self.close_connections()
        if self.own_spool:
            shutil.rmtree(self.spool_dir, ignore_errors=True)

    # --- reading the stream -------------------------------------------------------------

    def _reconnect(self) -> None:
        """After a lost connection: stream again from what the slot was told."""
        self.close_connections()
        self.buffer = []
        self.connect()

    def _pump(self, *, wait_for: int | None = None, timeout: float = 60.0) -> None:
        """Take in what the server has sent; with ``wait_for``, until the stream passed it."""
        if self.stream is None:
            self._reconnect()
        limit = self.config.batch.max_records * BUFFER_LIMIT_FACTOR
        deadline = time.monotonic() + timeout
        waiting = sum(len(t.changes) for t in self.buffer)
        try:
            while waiting < limit:
                message = self.cursor.read_message()
                if message is None:
                    if wait_for is None or (self.cursor.wal_end >= wait_for
                                            and self.decoder.current is None):
                        break
                    if time.monotonic() > deadline:
                        raise ConnectorError(
                            f"the replication stream did not reach {lsn_text(wait_for)} "
                            f"within {timeout:.0f} s", step=self.step, retriable=True)
                    self._keepalive(force=True)
                    import select

                    select.select([self.stream], [], [], 0.2)
                    continue
                waiting += self._take(message)
            self._keepalive()
        except ConnectorError:
            raise
        except Exception as exc:
            self.close_connections()
            raise self._fail(exc, f"reading the replication stream of slot {self.slot}") \
                from None

    def _take(self, message: Any) -> int:
        """Decode one message; a completed transaction not seen yet joins the buffer.
        Returns the changes it added."""
        txn = self.decoder.feed(message.payload, message.data_start)
        if txn is not None and txn.end_lsn > max(self.position, self._buffered_end()):
            self.buffer.append(txn)
            return len(txn.changes)
        return 0

    def _buffered_end(self) -> int:
        return self.buffer[-1].end_lsn if self.buffer else 0

    def _keepalive(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_feedback > 5:
            self.cursor.send_feedback(flush_lsn=self.confirmed)
            self._last_feedback = now

    # --- planning -----------------------------------------------------------------------

    @property
    def positions(self) -> dict[Partition, int]:
        return {(self.slot, 0): self.position}

    @property
    def batch_records(self) -> int:
        return self.config.batch.max_records

    @property
    def batch_seconds(self) -> float:
        return self.config.batch.max_seconds

    def resolve_until(self, *, bounded: bool) -> None:
        """A bounded run reads the changes committed before it started."""
        if bounded:
            # The insert position: at or past the end of every transaction committed so far.
            self.until = lsn_int(self._sql("SELECT pg_current_wal_insert_lsn()::text")[0][0])

    def plan(self, budget: int | None) -> Plan:
        self._pump(wait_for=self.until)
        self._skip_empty()
        taken: list[Transaction] = []
        if self.snapshot is not None:
            taken.append(self.snapshot)
        else:
            count = 0
            for txn in self.buffer:
                if self.until is not None and txn.end_lsn > self.until:
                    break
                if taken and budget is not None and count + len(txn.changes) > budget:
                    break
                taken.append(txn)
                count += len(txn.changes)
        end = taken[-1].end_lsn if taken else self.position
        waiting = sum(len(t.changes) for t in self.buffer) + (
            len(self.snapshot.changes) if self.snapshot else 0)
        finished = self.until is not None and not taken
        return Plan(self, taken, self.position, end, {(self.slot, 0): waiting}, finished)

    def _skip_empty(self) -> None:
        """Transactions without changes of our tables have nothing to load: when everything
        before them is confirmed, confirm past them too, so the slot keeps no WAL for them."""
        skipped, before = 0, self.position
        while self.buffer and not self.buffer[0].changes and self.snapshot is None:
            self.position = self.buffer.pop(0).end_lsn
            skipped += 1
        if skipped and self.confirmed >= before:
            self.confirmed = self.position
            self._keepalive(force=True)

    def spool(self, plan: Plan) -> CdcRange:
        """Write the plan's changes to an Arrow file the source reads."""
        batches = to_batches(plan.transactions, self.decoder.relations,
                             with_table=len(self.config.tables) > 1)
        path = self.spool_dir / f"{plan.start:016x}-{plan.end:016x}.arrows"
        tmp = path.with_suffix(".tmp")
        with pa.OSFile(str(tmp), "wb") as sink:
            for batch in batches:
                # One stream per table (their schemas differ): length-prefixed, in order.
                buffer = pa.BufferOutputStream()
                with pa.ipc.new_stream(buffer, batch.schema) as writer:
                    writer.write_batch(batch)
                data = buffer.getvalue()
                sink.write(len(data).to_bytes(8, "big"))
                sink.write(data)
        os.replace(tmp, path)
        return CdcRange(self.slot, plan.start, plan.end, plan.records, str(path))

    def lag(self, high: dict[Partition, int]) -> dict[Partition, int]:
        return dict(high)

    # --- committing ---------------------------------------------------------------------

    def override_positions(self, positions: dict[Partition, int]) -> None:
        for key, lsn in positions.items():
            if key == (self.slot, 0):
                self.advance({key: lsn})

    def advance(self, ends: dict[Partition, int]) -> None:
        end = ends.get((self.slot, 0))
        if end is None:
            return
        if self.snapshot is not None and end >= self.snapshot.end_lsn:
            self.snapshot = None
        self.position = max(self.position, end)
        self.buffer = [t for t in self.buffer if t.end_lsn > self.position]
        for path in self.spool_dir.glob("*.arrows"):
            if int(path.name.split("-")[1].split(".")[0], 16) <= self.position:
                path.unlink(missing_ok=True)

    def commit(self, plan: Plan) -> None:
        self.commit_positions(plan.ends())

    def commit_positions(self, ends: dict[Partition, int]) -> None:
        """Tell the slot that changes up to ``ends`` are loaded, and wait until it says so."""
        end = ends.get((self.slot, 0))
        if end is None:
            return
        if self.marker is not None and self.marker.exists():
            marker = read_json(self.marker)
            if isinstance(marker, dict) and marker.get("snapshot") == "pending":
                self._write_marker(str(marker.get("created")), "done")
        if end <= self.confirmed:
            return
        try:
            if self.stream is None:
                self._reconnect()
            self.cursor.send_feedback(flush_lsn=end, force=True)
            self._last_feedback = time.monotonic()
            deadline = time.monotonic() + CONFIRM_TIMEOUT
            while True:
                row = self._slot_row()
                if row is not None and row[0] is not None and lsn_int(row[0]) >= end:
                    break
                if time.monotonic() > deadline:
                    raise ConnectorError(
                        f"slot {self.slot} did not confirm {lsn_text(end)} within "
                        f"{CONFIRM_TIMEOUT:.0f} s", step=self.step, retriable=True,
                        hint="The rows are loaded; the confirmation is retried.")
                # Keep taking in changes meanwhile (never drop one: it is not re-sent).
                message = self.cursor.read_message()
                if message is not None:
                    self._take(message)
                else:
                    time.sleep(0.005)
        except ConnectorError:
            raise
        except Exception as exc:
            self.close_connections()
            raise self._fail(exc, f"confirming {lsn_text(end)} to slot {self.slot}") \
                from None
        self.confirmed = end


def client_now_us() -> int:
    return int(time.time() * 1_000_000)


def _quoted(table: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in table.split("."))


def read_spool(path: str) -> list[pa.RecordBatch]:
    """The batches a planner spooled (see ``CdcPlanner.spool``)."""
    batches = []
    with open(path, "rb") as f:
        while header := f.read(8):
            data = f.read(int.from_bytes(header, "big"))
            with pa.ipc.open_stream(data) as reader:
                batches.extend(reader)
    return batches


def create_planner(settings: SourceConfig, *, pipeline: str, step: str,
                   state_dir: Path | None = None) -> CdcPlanner:
    """The planner of a ``postgres_cdc`` step (``Capabilities.offset_planner``)."""
    return CdcPlanner(settings, pipeline=pipeline, step=step, state_dir=state_dir)
