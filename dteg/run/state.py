"""Incremental state: where each source's cursor stands, and which backfill partitions are
done. The cursor advances only after every sink of a run has committed.

How a run uses it (``dteg.run.lifecycle.execute`` calls the two hooks):

1. ``prepare_run`` (launcher, before Beam): settles runs that were killed (below), then for
   each incremental source reads the saved cursor and takes the source's high watermark
   *now*, so the run reads ``saved < cursor <= high watermark`` and rows that arrive during
   the run wait for the next one. The bounds travel to the source in ``spec.run_overrides``;
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
import decimal
import json
import os
import shutil
import signal
import sqlite3
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dteg.errors import ConfigError
from dteg.spec.models import PipelineSpec

STATE_FOLDER = "state"
COMMITS_FOLDER = "commits"
OWNER_FILE = "owner.json"
BACKFILL_KEY = "__backfill__"
# A test hook: `DTEG_FAULT=kill_before_state_commit` SIGKILLs the process right after every
# sink committed and before the cursor is saved (the window the crash tests exercise).
FAULT_ENV = "DTEG_FAULT"


# --- cursor values as JSON ---------------------------------------------------------------------


def encode_value(value: Any) -> dict[str, Any] | None:
    """A cursor value as JSON that keeps its type (timestamps stay timestamps)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"a boolean ({value}) cannot be an incremental cursor")
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, decimal.Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, dt.datetime):
        return {"type": "timestamptz" if value.tzinfo else "timestamp",
                "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    raise ConfigError(f"cannot keep a {type(value).__name__} as an incremental cursor")


def decode_value(data: dict[str, Any] | None) -> Any:
    if data is None:
        return None
    kind, value = data["type"], data["value"]
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "decimal":
        return decimal.Decimal(value)
    if kind in ("timestamp", "timestamptz"):
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return str(value)


def render_value(value: Any) -> str:
    """A cursor value for people (state show, messages)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Bounds:
    """The cursor range one run reads: ``lower <op> cursor <op> upper`` (None: unbounded)."""

    column: str
    lower: Any = None
    upper: Any = None
    lower_inclusive: bool = False
    upper_inclusive: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "lower": encode_value(self.lower),
                "upper": encode_value(self.upper), "lower_inclusive": self.lower_inclusive,
                "upper_inclusive": self.upper_inclusive}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bounds:
        return cls(data["column"], decode_value(data.get("lower")),
                   decode_value(data.get("upper")), bool(data.get("lower_inclusive")),
                   bool(data.get("upper_inclusive", True)))


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


def run_folder(spec: PipelineSpec, run_id: str) -> Path:
    return spec.state_dir / "runs" / run_id


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def record_commit(run_dir: Path, step: str, rows: int) -> None:
    """Called once a sink has committed (see ``dteg.beam.io``)."""
    write_json(run_dir / COMMITS_FOLDER / f"{step}.json", {"step": step, "rows": rows})


def _sink_modes(spec: PipelineSpec) -> dict[str, str]:
    from dteg.beam.compiler import DEAD_LETTER_STEP
    from dteg.components.registry import default_registry

    modes: dict[str, str] = {DEAD_LETTER_STEP: "append"}
    registry = default_registry()
    for step in spec.steps:
        if step.is_sink:
            info = registry.find("sink", step.component or step.type)
            mode = "append"
            if info is not None:
                model = info.config_model().model_validate(step.config)
                mode = str(getattr(model, "mode", "append"))
            modes[step.name] = mode
    return modes


def _incremental_readers(spec: PipelineSpec) -> list[tuple[str, Any]]:
    """(step, reader) for every source that keeps a cursor."""
    from dteg.components.contracts import RunContext
    from dteg.components.registry import default_registry

    found = []
    for step in spec.sources():
        info = default_registry().find("source", step.component or step.type)
        if info is None:
            continue
        model = info.config_model().model_validate(step.config)
        if getattr(model, "incremental", None) is None:
            continue
        ctx = RunContext(pipeline=spec.name, step=step.name, base_dir=spec.base_dir,
                         run_id="planning")
        found.append((step.name, info.load_factory()(model, ctx)))
    return found


def prepare_run(spec: PipelineSpec, run_id: str) -> PipelineSpec:
    """Settle killed runs, fix each incremental source's bounds for this run and leave the
    new cursors as pending state in the run folder. Returns the spec to run."""
    store = open_store(spec)
    settle_interrupted_runs(spec, store, run_id)
    run_dir = run_folder(spec, run_id)
    overrides = dict(spec.run_overrides)
    backfill = overrides.get(BACKFILL_KEY)
    pending: dict[str, dict[str, Any]] = {}
    for step, reader in _incremental_readers(spec):
        if step in overrides:
            continue  # a backfill partition: bounds given, the regular cursor is untouched
        column = reader.cursor_column()
        saved = store.get(spec.name, cursor_key(step))
        lower = decode_value(saved["value"]) if saved else reader.initial_cursor()
        upper = reader.high_watermark(lower)
        bounds = Bounds(column, lower, upper, lower_inclusive=saved is None)
        overrides[step] = {"bounds": bounds.to_json()}
        if upper is not None:
            pending[cursor_key(step)] = {"column": column, "value": encode_value(upper)}
    if backfill:
        pending[backfill["key"]] = backfill["value"]
    write_json(run_dir / OWNER_FILE, {"pid": os.getpid(), "run_id": run_id,
                                      "pipeline": spec.name, "sinks": _sink_modes(spec)})
    if pending:
        write_json(run_dir / STATE_FOLDER / "pending.json", pending)
    return spec.model_copy(update={"run_overrides": overrides})


def commit_pending_state(spec: PipelineSpec, run_id: str) -> None:
    """After every sink committed: save the run's pending cursors (one transaction)."""
    if os.environ.get(FAULT_ENV) == "kill_before_state_commit":
        os.kill(os.getpid(), signal.SIGKILL)
    pending = run_folder(spec, run_id) / STATE_FOLDER / "pending.json"
    if pending.exists():
        open_store(spec).put_many(spec.name, json.loads(pending.read_text("utf-8")), run_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (not reaped yet) is as dead as a missing process
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _notify(text: str) -> None:
    sys.stderr.write(f"warning: {text}\n")
    sys.stderr.flush()


def settle_interrupted_runs(spec: PipelineSpec, store: StateStore, current: str) -> list[str]:
    """Runs of this pipeline whose process died before saving state (see the module doc).
    Returns the warnings it printed."""
    from dteg.run.records import RunStore

    notes: list[str] = []
    runs = spec.state_dir / "runs"
    if not runs.is_dir():
        return notes
    for folder in sorted(runs.iterdir()):
        owner_file = folder / OWNER_FILE
        if folder.name == current or not owner_file.exists():
            continue
        try:
            owner = json.loads(owner_file.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if owner.get("pipeline") != spec.name or _alive(int(owner.get("pid", 0))):
            continue  # another pipeline's run, or a run still going
        note = _settle(spec, store, folder, owner, killed=True)
        if note:
            notes.append(note)
        record = RunStore.for_folder(spec.base_dir).get(folder.name)
        if record is not None and record.status == "running":
            RunStore.for_folder(spec.base_dir).finish(
                folder.name, status="failed", error="the process was killed; " + (
                    note or "nothing was committed"))
        shutil.rmtree(folder, ignore_errors=True)
    return notes


def warn_partial_commits(spec: PipelineSpec, run_id: str) -> str:
    """A run failed: say which append sinks committed anyway (their rows will be read again)."""
    folder = run_folder(spec, run_id)
    try:
        owner = json.loads((folder / OWNER_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return ""
    return _settle(spec, None, folder, owner, killed=False)


def _settle(spec: PipelineSpec, store: StateStore | None, folder: Path, owner: dict[str, Any],
            *, killed: bool) -> str:
    sinks: dict[str, str] = owner.get("sinks", {})
    committed = {p.stem for p in (folder / COMMITS_FOLDER).glob("*.json")} & set(sinks)
    pending_file = folder / STATE_FOLDER / "pending.json"
    pending = json.loads(pending_file.read_text("utf-8")) if pending_file.exists() else {}
    how = "was killed" if killed else "failed"
    note = ""
    if store is not None and pending and committed == set(sinks):
        store.put_many(spec.name, pending, folder.name)
        note = (f"run {folder.name} was killed after its loads committed and before it saved "
                "its cursor; the cursor was saved now, so no row is read twice")
    elif committed:
        appended = sorted(s for s in committed if sinks.get(s) == "append")
        note = (f"run {folder.name} {how} after some loads committed "
                f"({', '.join(sorted(committed))}); its rows will be read again")
        if appended:
            note += (f"; append sink(s) {', '.join(appended)} may then hold those rows twice "
                     "(merge and replace sinks stay exact)")
    if note:
        _notify(note)
    return note
