"""Incremental state: where each source's cursor stands, and which backfill partitions are
done. The cursor advances only after every sink of a run has committed.

How a run uses it (``dteg.run.lifecycle.execute`` calls the two hooks):

1. ``prepare_run`` (launcher, before Beam): settles runs that were killed (below), then for
   each incremental source reads the saved cursor and takes the source's high watermark
   *now*, so the run reads ``saved < cursor <= high watermark`` and rows that arrive during
   the run wait for the next one. The bounds travel to the source in the run plan
   (``RunContext.plan.bounds``);
   the new cursor is written to ``.dteg/runs/<run>/state/`` as *pending*.
2. Sinks commit; ``dteg.beam.io`` leaves a marker per committed sink in the run folder.
3. ``commit_pending_state`` (launcher, after the run succeeded): pending → state store.

A run killed between 2 and 3 leaves its folder behind. The next run of the pipeline finds
it (its process is gone) and settles it: every sink committed → the pending cursor is saved
then (no row is read twice); no sink committed → the cursor stays (rows are read again, none
were loaded); some committed → the cursor stays and every committed `append` sink is named in
a warning, since it may now hold rows twice. Merge and replace sinks are exact either way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dteg.components.contracts import IncrementalReader, RunContext
from dteg.components.files import pid_alive
from dteg.components.plan import Bounds, RunPlan, decode_value, encode_value
from dteg.components.registry import default_registry
from dteg.components.rundir import RunDir
from dteg.components.settings import cursor_column, write_mode
from dteg.errors import ConfigError
from dteg.spec.models import PipelineSpec

# A test hook: `DTEG_FAULT=kill_before_state_commit` SIGKILLs the process right after every
# sink committed and before the cursor is saved (the window the crash tests exercise).
FAULT_ENV = "DTEG_FAULT"


# --- stores ------------------------------------------------------------------------------------


@dataclass
class StateEntry:
    pipeline: str
    key: str
    value: dict[str, Any]
    run_id: str
    updated_at: str


class StateStore(ABC):
    """Key → JSON value per pipeline. Keys: ``cursor:<step>``, ``backfill:<id>:<n>``."""

    @abstractmethod
    def get(self, pipeline: str, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def put_many(self, pipeline: str, items: dict[str, dict[str, Any]], run_id: str) -> None:
        """Save every item at once (one transaction)."""

    @abstractmethod
    def entries(self, pipeline: str, prefix: str = "") -> list[StateEntry]: ...

    @abstractmethod
    def delete(self, pipeline: str, prefix: str = "") -> int: ...

    @abstractmethod
    def describe(self) -> str: ...


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class SqliteStateStore(StateStore):
    """The default: ``.dteg/state.sqlite`` next to the pipeline."""

    _SCHEMA = ("CREATE TABLE IF NOT EXISTS state (pipeline TEXT NOT NULL, key TEXT NOT NULL, "
               "value TEXT NOT NULL, run_id TEXT NOT NULL, updated_at TEXT NOT NULL, "
               "PRIMARY KEY (pipeline, key))")

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute(self._SCHEMA)
        return con

    def get(self, pipeline: str, key: str) -> dict[str, Any] | None:
        with self._connect() as con:
            row = con.execute("SELECT value FROM state WHERE pipeline = ? AND key = ?",
                              (pipeline, key)).fetchone()
        return json.loads(row[0]) if row else None

    def put_many(self, pipeline: str, items: dict[str, dict[str, Any]], run_id: str) -> None:
        with self._connect() as con:  # one transaction, committed on exit
            con.executemany(
                "INSERT INTO state (pipeline, key, value, run_id, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline, key) DO UPDATE SET "
                "value = excluded.value, run_id = excluded.run_id, "
                "updated_at = excluded.updated_at",
                [(pipeline, k, json.dumps(v), run_id, _now()) for k, v in items.items()])

    def entries(self, pipeline: str, prefix: str = "") -> list[StateEntry]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT pipeline, key, value, run_id, updated_at FROM state "
                "WHERE pipeline = ? AND substr(key, 1, ?) = ? ORDER BY key",
                (pipeline, len(prefix), prefix)).fetchall()
        return [StateEntry(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def delete(self, pipeline: str, prefix: str = "") -> int:
        with self._connect() as con:
            return con.execute("DELETE FROM state WHERE pipeline = ? AND substr(key, 1, ?) = ?",
                               (pipeline, len(prefix), prefix)).rowcount

    def describe(self) -> str:
        return str(self.path)


class PostgresStateStore(StateStore):
    """A table in PostgreSQL (``state: {type: postgres, url: …}``), for pipelines that run
    on machines that do not keep their disk."""

    def __init__(self, url: str, table: str) -> None:
        self.url = url
        self.table = table

    def _connect(self) -> Any:
        from dteg.connectors.postgres.dialect import connect_url

        con = connect_url(self.url, what="the state store")
        cur = con.cursor()
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (pipeline TEXT NOT NULL, "
                    "key TEXT NOT NULL, value TEXT NOT NULL, run_id TEXT NOT NULL, "
                    "updated_at TEXT NOT NULL, PRIMARY KEY (pipeline, key))")
        con.commit()
        return con

    def _run(self, sql: str, params: tuple[Any, ...] = (), fetch: bool = False) -> Any:
        con = self._connect()
        try:
            cur = con.cursor()
            cur.execute(sql, parameters=params)
            rows = cur.fetchall() if fetch else cur.rowcount
            con.commit()
            return rows
        finally:
            con.close()

    def get(self, pipeline: str, key: str) -> dict[str, Any] | None:
        rows = self._run(f"SELECT value FROM {self.table} WHERE pipeline = $1 AND key = $2",
                         (pipeline, key), fetch=True)
        return json.loads(rows[0][0]) if rows else None

    def put_many(self, pipeline: str, items: dict[str, dict[str, Any]], run_id: str) -> None:
        con = self._connect()
        try:
            cur = con.cursor()
            for key, value in items.items():
                cur.execute(
                    f"INSERT INTO {self.table} (pipeline, key, value, run_id, updated_at) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (pipeline, key) DO UPDATE SET "
                    "value = excluded.value, run_id = excluded.run_id, "
                    "updated_at = excluded.updated_at",
                    parameters=(pipeline, key, json.dumps(value), run_id, _now()))
            con.commit()
        finally:
            con.close()

    def entries(self, pipeline: str, prefix: str = "") -> list[StateEntry]:
        rows = self._run(
            f"SELECT pipeline, key, value, run_id, updated_at FROM {self.table} "
            "WHERE pipeline = $1 AND starts_with(key, $2) ORDER BY key", (pipeline, prefix),
            fetch=True)
        return [StateEntry(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def delete(self, pipeline: str, prefix: str = "") -> int:
        return len(self._run(f"DELETE FROM {self.table} WHERE pipeline = $1 AND "
                             "starts_with(key, $2) RETURNING 1", (pipeline, prefix), fetch=True))

    def describe(self) -> str:
        from dteg.spec.secrets import redact_url_passwords

        return f"{redact_url_passwords(self.url)} table {self.table}"


def open_store(spec: PipelineSpec) -> StateStore:
    """The pipeline's state store (``state:`` in the file; default SQLite under .dteg/)."""
    config = spec.body.state
    if config is None or config.type == "sqlite":
        path = Path(config.path if config else ".dteg/state.sqlite")
        return SqliteStateStore(path if path.is_absolute() else spec.base_dir / path)
    if config.url is None:
        raise ConfigError(f"{spec.file}: `state: {{type: postgres}}` needs `url:`")
    return PostgresStateStore(config.url.get_secret_value(), config.table)


def cursor_key(step: str) -> str:
    return f"cursor:{step}"


# --- the run's side ----------------------------------------------------------------------------


def sink_modes(spec: PipelineSpec) -> dict[str, str]:
    """Each sink's write mode. The dead-letter sink counts as appending: every run adds its
    own rejects (the default writes one file per run)."""
    return {step.name: "append" if step.is_dead_letter_sink else write_mode(step.settings)
            for step in spec.steps if step.is_sink}


def _incremental_readers(spec: PipelineSpec) -> list[tuple[str, IncrementalReader]]:
    """(step, reader) for every source that reads by a cursor in this pipeline."""
    found = []
    registry = default_registry()
    for step in spec.sources():
        if not step.capabilities.incremental or cursor_column(step.settings) is None:
            continue
        info = registry.find("source", step.component or step.type)
        if info is None:
            continue
        ctx = RunContext(pipeline=spec.name, step=step.name, base_dir=spec.base_dir,
                         run_id="planning")
        reader = info.build(step.validated(), ctx)
        if not isinstance(reader, IncrementalReader):
            raise ConfigError(f"{step.where()}: component `{info.name}` declares incremental "
                              "reads, but its reader is not an IncrementalReader",
                              hint="Fix or upgrade the package that provides it.")
        found.append((step.name, reader))
    return found


def prepare_run(spec: PipelineSpec, plan: RunPlan) -> RunPlan:
    """Settle killed runs, fix each incremental source's bounds for this run and leave the
    new cursors as pending state in the run folder. Returns the plan to run."""
    store = open_store(spec)
    settle_interrupted_runs(spec, store, plan.run_id)
    run_dir = RunDir.of(spec.state_dir, plan.run_id)
    pending: dict[str, dict[str, Any]] = {}
    for step, reader in _incremental_readers(spec):
        if plan.for_step(step).bounds is not None:
            continue  # a backfill partition: bounds given, the regular cursor is untouched
        column = reader.cursor_column()
        saved = store.get(spec.name, cursor_key(step))
        lower = decode_value(saved["value"]) if saved else reader.initial_cursor()
        upper = reader.high_watermark(lower)
        plan = plan.with_step(step, bounds=Bounds(column, lower, upper,
                                                  lower_inclusive=saved is None))
        if upper is not None:
            pending[cursor_key(step)] = {"column": column, "value": encode_value(upper)}
    if plan.backfill is not None:
        pending[plan.backfill.key] = plan.backfill.value
    run_dir.write_owner(pid=os.getpid(), pipeline=spec.name, sinks=sink_modes(spec))
    if pending:
        run_dir.write_pending_state(pending)
    return plan


def commit_pending_state(spec: PipelineSpec, run_id: str) -> None:
    """After every sink committed: save the run's pending cursors (one transaction)."""
    if os.environ.get(FAULT_ENV) == "kill_before_state_commit":
        os.kill(os.getpid(), signal.SIGKILL)
    pending = RunDir.of(spec.state_dir, run_id).pending_state()
    if pending:
        open_store(spec).put_many(spec.name, pending, run_id)


def _notify(text: str) -> None:
    sys.stderr.write(f"warning: {text}\n")
    sys.stderr.flush()


def settle_interrupted_runs(spec: PipelineSpec, store: StateStore, current: str) -> list[str]:
    """Runs of this pipeline whose process died before saving state (see the module doc).
    Returns the warnings it printed."""
    from dteg.run.records import RunStore

    notes: list[str] = []
    for folder in RunDir.all(spec.state_dir):
        owner = folder.owner()
        if folder.run_id == current or owner is None:
            continue
        if owner.get("pipeline") != spec.name or pid_alive(int(owner.get("pid", 0))):
            continue  # another pipeline's run, or a run still going
        note = _settle(spec, store, folder, owner, killed=True)
        if note:
            notes.append(note)
        records = RunStore.for_folder(spec.base_dir)
        record = records.get(folder.run_id)
        if record is not None and record.status == "running":
            records.finish(folder.run_id, status="failed", error="the process was killed; " + (
                note or "nothing was committed"))
        folder.remove()
    return notes


def warn_partial_commits(spec: PipelineSpec, run_id: str) -> str:
    """A run failed: say which append sinks committed anyway (their rows will be read again)."""
    folder = RunDir.of(spec.state_dir, run_id)
    owner = folder.owner()
    return "" if owner is None else _settle(spec, None, folder, owner, killed=False)


def _settle(spec: PipelineSpec, store: StateStore | None, folder: RunDir,
            owner: dict[str, Any], *, killed: bool) -> str:
    sinks: dict[str, str] = owner.get("sinks", {})
    committed = folder.committed() & set(sinks)
    pending = folder.pending_state()
    how = "was killed" if killed else "failed"
    note = ""
    if store is not None and pending and committed == set(sinks):
        store.put_many(spec.name, pending, folder.run_id)
        note = (f"run {folder.run_id} was killed after its loads committed and before it saved "
                "its cursor; the cursor was saved now, so no row is read twice")
    elif committed:
        appended = sorted(s for s in committed if sinks.get(s) == "append")
        note = (f"run {folder.run_id} {how} after some loads committed "
                f"({', '.join(sorted(committed))}); its rows will be read again")
        if appended:
            note += (f"; append sink(s) {', '.join(appended)} may then hold those rows twice "
                     "(merge and replace sinks stay exact)")
    if note:
        _notify(note)
    return note
