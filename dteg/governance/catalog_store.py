"""The catalog, kept in SQLite next to the pipelines (``.dteg/catalog.sqlite``): every
dataset dteg read or wrote, its current columns with PII classes, its schema history, row
counts and profiles per run, the pipelines that read and write it and the dbt models on it.

Written by the ``Catalog`` run listener after every successful run; read by ``dteg catalog``,
the API and the privacy jobs. One transaction per run, so a crash leaves the last complete
picture."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dteg.governance.catalog_entry import DatasetEntry, RunEntry
from dteg.governance.folder_db import folder_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    key TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    component TEXT NOT NULL,
    description TEXT,
    owners TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    columns TEXT NOT NULL DEFAULT '[]',      -- JSON: the current columns (name, type, pii, …)
    first_seen TEXT NOT NULL,
    last_read TEXT,
    last_written TEXT,                       -- freshness: the last successful write
    last_rows INTEGER,
    dead_letter INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dataset_users (   -- the pipelines that read or write a dataset
    dataset TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    step TEXT NOT NULL,
    role TEXT NOT NULL,                      -- read | write
    yaml_file TEXT NOT NULL DEFAULT '',
    last_run TEXT NOT NULL,
    PRIMARY KEY (dataset, pipeline, step, role)
);
CREATE TABLE IF NOT EXISTS dataset_models (
    dataset TEXT NOT NULL,
    model TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    PRIMARY KEY (dataset, model, pipeline)
);
CREATE TABLE IF NOT EXISTS schema_versions (
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    schema TEXT NOT NULL,
    run_id TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
);
CREATE TABLE IF NOT EXISTS dataset_runs (    -- row counts and profiles over time
    dataset TEXT NOT NULL,
    run_id TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    step TEXT NOT NULL,
    role TEXT NOT NULL,
    at TEXT NOT NULL,
    rows INTEGER,
    profile TEXT,
    PRIMARY KEY (dataset, run_id, step)
);
CREATE INDEX IF NOT EXISTS dataset_runs_by_time ON dataset_runs (dataset, at);
"""


@dataclass
class DatasetSummary:
    key: str
    namespace: str
    name: str
    component: str
    owners: list[str]
    tags: list[str]
    columns: list[dict[str, Any]]
    last_written: str | None
    last_read: str | None
    last_rows: int | None
    dead_letter: bool
    description: str | None = None

    @property
    def pii_classes(self) -> dict[str, str]:
        """column → PII class, for the columns that hold personal data."""
        return {c["name"]: c["pii"] for c in self.columns if c.get("pii")}

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "pii_classes": self.pii_classes}


@dataclass
class DatasetDetail:
    summary: DatasetSummary
    users: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, str]] = field(default_factory=list)
    schema_history: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary.to_dict(), "users": self.users, "models": self.models,
                "schema_history": self.schema_history, "runs": self.runs}


def _fingerprint(columns: list[dict[str, Any]]) -> str:
    shape = [[c["name"], c["type"]] for c in columns]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def _merged(known: list[dict[str, Any]], seen: list[dict[str, Any]], role: str
            ) -> list[dict[str, Any]]:
    """The columns after a run: what it saw, keeping what was known. A PII class sticks (a
    reader of encrypted values no longer sees emails, the column still holds them); the
    protection comes from the writer, so a reader keeps the one recorded."""
    if not seen:
        return known  # the run saw no rows: keep what we knew
    before = {c["name"]: c for c in known}
    out = []
    for column in seen:
        old = before.get(column["name"], {})
        merged = dict(column)
        merged["pii"] = column.get("pii") or old.get("pii")
        if role == "read" and not column.get("protection"):
            merged["protection"] = old.get("protection")
            merged["protected_by"] = old.get("protected_by")
        out.append(merged)
    return out


class CatalogStore:
    """The catalog database of the pipelines in one folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def for_folder(folder: Path) -> CatalogStore:
        return CatalogStore(folder / ".dteg" / "catalog.sqlite")

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return folder_db(self.path, _SCHEMA)

    # --- writing ---------------------------------------------------------------------------

    def record_run(self, entry: RunEntry) -> None:
        """Add what one run read and wrote (one transaction)."""
        self.record_runs([entry])

    def record_runs(self, entries: list[RunEntry]) -> None:
        """Add several runs in one transaction (imports, benchmarks)."""
        with self._db() as db:
            for entry in entries:
                for ds in entry.datasets:
                    self._upsert(db, entry, ds)

    def _upsert(self, db: sqlite3.Connection, entry: RunEntry, ds: DatasetEntry) -> None:
        columns = [vars(c) for c in ds.columns]
        row = db.execute("SELECT columns FROM datasets WHERE key = ?", (ds.key,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO datasets (key, namespace, name, component, first_seen, "
                "dead_letter) VALUES (?, ?, ?, ?, ?, ?)",
                (ds.key, ds.namespace, ds.name, ds.component, entry.at, int(ds.dead_letter)))
        else:
            columns = _merged(json.loads(row["columns"]), columns, ds.role)
        when = "last_written" if ds.role == "write" else "last_read"
        # A writer's owners and tags describe the dataset; a reader's only when none wrote it.
        owners = ", owners = ?, tags = ?, description = coalesce(?, description)" if (
            ds.role == "write") else ""
        params: list[Any] = [json.dumps(columns), entry.at, ds.rows]
        if owners:
            params += [json.dumps(ds.owners), json.dumps(ds.tags), ds.description]
        db.execute(f"UPDATE datasets SET columns = ?, {when} = ?, last_rows = ?{owners} "
                   "WHERE key = ?", (*params, ds.key))
        if ds.role == "read":
            db.execute("UPDATE datasets SET owners = ?, tags = ? WHERE key = ? AND "
                       "last_written IS NULL", (json.dumps(ds.owners), json.dumps(ds.tags),
                                                ds.key))
        db.execute(
            "INSERT INTO dataset_users VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dataset, "
            "pipeline, step, role) DO UPDATE SET last_run = excluded.last_run, "
            "yaml_file = excluded.yaml_file",
            (ds.key, ds.pipeline, ds.step, ds.role, entry.yaml_file, entry.at))
        for model in ds.models:
            db.execute("INSERT OR IGNORE INTO dataset_models VALUES (?, ?, ?)",
                       (ds.key, model, ds.pipeline))
        if columns:
            self._schema_version(db, entry, ds, columns)
        db.execute("INSERT OR REPLACE INTO dataset_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (ds.key, entry.run_id, ds.pipeline, ds.step, ds.role, entry.at, ds.rows,
                    json.dumps(ds.profile, default=str) if ds.profile else None))

    @staticmethod
    def _schema_version(db: sqlite3.Connection, entry: RunEntry, ds: DatasetEntry,
                        columns: list[dict[str, Any]]) -> None:
        fingerprint = _fingerprint(columns)
        last = db.execute("SELECT version, fingerprint FROM schema_versions WHERE dataset = ? "
                          "ORDER BY version DESC LIMIT 1", (ds.key,)).fetchone()
        if last is not None and last["fingerprint"] == fingerprint:
            return
        version = 1 if last is None else last["version"] + 1
        schema = [{"name": c["name"], "type": c["type"]} for c in columns]
        db.execute("INSERT INTO schema_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (ds.key, version, fingerprint, json.dumps(schema), entry.run_id,
                    ds.pipeline, entry.at))

    # --- reading ---------------------------------------------------------------------------

    @staticmethod
    def _summary(row: sqlite3.Row) -> DatasetSummary:
        return DatasetSummary(
            key=row["key"], namespace=row["namespace"], name=row["name"],
            component=row["component"], owners=json.loads(row["owners"]),
            tags=json.loads(row["tags"]), columns=json.loads(row["columns"]),
            last_written=row["last_written"], last_read=row["last_read"],
            last_rows=row["last_rows"], dead_letter=bool(row["dead_letter"]),
            description=row["description"])

    def datasets(self, search: str | None = None, *, pii_only: bool = False
                 ) -> list[DatasetSummary]:
        """Every dataset, by name; ``search`` matches names, owners, tags and columns."""
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT * FROM datasets ORDER BY namespace, name").fetchall()
        found = [self._summary(r) for r in rows]
        if search:
            needle = search.lower()
            found = [d for d in found if needle in " ".join(
                [d.key, *d.owners, *d.tags, *(c["name"] for c in d.columns),
                 *(c.get("pii") or "" for c in d.columns)]).lower()]
        if pii_only:
            found = [d for d in found if d.pii_classes]
        return found

    def dataset(self, key: str, *, runs: int = 50) -> DatasetDetail | None:
        """One dataset by its key, or by a unique suffix of its name (``customers``)."""
        if not self.path.exists():
            return None
        with self._db() as db:
            row = db.execute("SELECT * FROM datasets WHERE key = ?", (key,)).fetchone()
            if row is None:
                matches = db.execute(
                    "SELECT * FROM datasets WHERE name = ? OR name LIKE ? OR key LIKE ?",
                    (key, f"%/{key}", f"%{key}")).fetchall()
                if len(matches) != 1:
                    return None
                row = matches[0]
            found = row["key"]
            users = [dict(r) for r in db.execute(
                "SELECT pipeline, step, role, yaml_file, last_run FROM dataset_users "
                "WHERE dataset = ? ORDER BY pipeline, role", (found,))]
            models = [dict(r) for r in db.execute(
                "SELECT model, pipeline FROM dataset_models WHERE dataset = ? ORDER BY model",
                (found,))]
            history = [{**dict(r), "schema": json.loads(r["schema"])} for r in db.execute(
                "SELECT version, schema, run_id, pipeline, at FROM schema_versions "
                "WHERE dataset = ? ORDER BY version", (found,))]
            history_runs = [{**dict(r), "profile": json.loads(r["profile"])
                             if r["profile"] else None} for r in db.execute(
                "SELECT run_id, pipeline, step, role, at, rows, profile FROM dataset_runs "
                "WHERE dataset = ? ORDER BY at DESC, rowid DESC LIMIT ?", (found, runs))]
        return DatasetDetail(self._summary(row), users, models, history, history_runs)

    def keys_written_by(self, pipeline: str) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute(
                "SELECT DISTINCT dataset FROM dataset_users WHERE pipeline = ? AND "
                "role = 'write'", (pipeline,))]

    def users_by_dataset(self) -> dict[str, set[str]]:
        """dataset key → the pipelines that read or write it."""
        if not self.path.exists():
            return {}
        found: dict[str, set[str]] = {}
        with self._db() as db:
            for dataset, pipeline in db.execute(
                    "SELECT DISTINCT dataset, pipeline FROM dataset_users"):
                found.setdefault(dataset, set()).add(pipeline)
        return found
