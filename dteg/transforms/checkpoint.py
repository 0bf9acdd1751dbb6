"""What a stream keeps between micro-batches and across restarts, under
``.dteg/streams/<pipeline>/``:

* ``checkpoint.json``: the manifest, replaced atomically after each micro-batch whose sinks
  committed: per window step its watermark, per aggregate step the file holding its open
  windows, and (for pipelines with open windows) the offsets those windows have read up to.
* ``state-<seq>-<step>.arrow``: the open windows (partials) of one aggregate step, written
  before the manifest that names them.
* ``pending.json``: the micro-batch in flight (its planned offsets and run folder). A process
  killed after every sink committed but before the offsets were committed leaves it behind;
  the next start finishes that commit instead of reading the batch again.

The aggregate step leaves its new state under ``<run folder>/pending/`` during the run; the
launcher promotes it into a new manifest only once the run succeeded.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.files import write_json_atomic

MANIFEST = "checkpoint.json"
PENDING = "pending.json"


@dataclass
class Checkpoint:
    seq: int = 0
    # window step → watermark (µs since the epoch) and largest event time seen
    watermarks: dict[str, int] = field(default_factory=dict)
    max_event: dict[str, int] = field(default_factory=dict)
    # aggregate step → state file name (beside the manifest)
    state_files: dict[str, str] = field(default_factory=dict)
    # source step → {"topic/partition": next offset}: where the windows' input stands
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)


def write_json(path: Path, data: Any) -> None:
    """Write, flush to disk, then rename over ``path``: readers see old or new, never half."""
    write_json_atomic(path, data, durable=True)


def load(folder: Path) -> Checkpoint:
    path = folder / MANIFEST
    if not path.exists():
        return Checkpoint()
    data = json.loads(path.read_text(encoding="utf-8"))
    return Checkpoint(**data)


def read_state(folder: Path, checkpoint: Checkpoint, step: str) -> pa.Table | None:
    name = checkpoint.state_files.get(step)
    if not name:
        return None
    with pa.memory_map(str(folder / name)) as source:
        return pa.ipc.open_file(source).read_all()


def write_table(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def pending_state(pending_dir: Path, step: str) -> tuple[pa.Table | None, dict[str, Any]] | None:
    """What an aggregate step left for the launcher: (open windows, {watermark, …})."""
    meta = pending_dir / f"{step}.json"
    if not meta.exists():
        return None
    info = json.loads(meta.read_text(encoding="utf-8"))
    table_path = pending_dir / f"{step}.arrow"
    table = None
    if table_path.exists():
        with pa.memory_map(str(table_path)) as source:
            table = pa.ipc.open_file(source).read_all()
    return table, info


def save(folder: Path, previous: Checkpoint, pending_dir: Path | None,
         offsets: dict[str, dict[str, int]]) -> Checkpoint:
    """A new manifest from the previous one, the aggregate steps' pending states and the
    offsets read so far. Only then are the superseded state files removed."""
    new = Checkpoint(seq=previous.seq + 1, watermarks=dict(previous.watermarks),
                     max_event=dict(previous.max_event),
                     state_files=dict(previous.state_files), offsets=offsets)
    if pending_dir is not None and pending_dir.is_dir():
        for meta in sorted(pending_dir.glob("*.json")):
            step = meta.stem
            found = pending_state(pending_dir, step)
            assert found is not None
            table, info = found
            window = info.get("window_step")
            if window and info.get("watermark") is not None:
                new.watermarks[window] = int(info["watermark"])
            if window and info.get("max_event") is not None:
                new.max_event[window] = int(info["max_event"])
            name = f"state-{new.seq}-{step}.arrow"
            if table is not None and table.num_rows:
                write_table(folder / name, table)
                new.state_files[step] = name
            else:
                new.state_files.pop(step, None)
    write_json(folder / MANIFEST, asdict(new))
    keep = set(new.state_files.values())
    for old in folder.glob("state-*.arrow"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return new
