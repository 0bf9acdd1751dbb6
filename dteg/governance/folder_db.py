"""One SQLite database of a pipeline folder (``.dteg/*.sqlite``), shared by the governance
stores: opened per use, its schema ensured, one transaction around the caller's work."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def folder_db(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """A connection to ``path`` (created with its folder if missing) with ``schema`` applied,
    rows as ``sqlite3.Row``; commits when the block ends, rolls back if it raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Several pipelines of one folder may finish at once: wait for the writer lock.
    db = sqlite3.connect(path, timeout=60)
    db.row_factory = sqlite3.Row
    try:
        db.executescript(schema)
        with db:
            yield db
    finally:
        db.close()
