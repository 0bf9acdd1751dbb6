"""The scratch folder of one run, ``<pipeline folder>/.dteg/runs/<run id>/``, and the only
place its layout is written down.

Components and Beam stages leave what the launcher needs there (the schema each step saw, a
marker per committed sink, the first error of a failed stage); the launcher keeps the run's
owner (pid, sinks and their modes) and its pending incremental state there, so a run killed
half way can be settled by the next one. Everything is written atomically.
"""

from __future__ import annotations

import pickle
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.files import read_json, write_json_atomic
from dteg.errors import DtegError, RunError

RUNS_FOLDER = "runs"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def of(cls, state_dir: Path, run_id: str) -> RunDir:
        """The run folder of ``run_id`` under a pipeline's ``.dteg`` folder."""
        return cls(state_dir / RUNS_FOLDER / run_id)

    @staticmethod
    def all(state_dir: Path) -> list[RunDir]:
        runs = state_dir / RUNS_FOLDER
        return [RunDir(p) for p in sorted(runs.iterdir())] if runs.is_dir() else []

    @property
    def run_id(self) -> str:
        return self.path.name

    # --- written by Beam stages (any worker that sees the folder) -----------------------

    def record_schema(self, step: str, schema: pa.Schema) -> None:
        """The schema ``step`` saw (lineage, schema drift). First writer wins: every worker of
        a step sees the same schema, or the sink refuses the mix."""
        target = self.path / "schemas" / f"{step}.json"
        if target.exists():
            return
        write_json_atomic(target, [{"name": f.name, "type": str(f.type)} for f in schema])

    def schemas(self) -> dict[str, list[dict[str, str]]]:
        folder = self.path / "schemas"
        found = {f.stem: read_json(f) for f in folder.glob("*.json")} if folder.is_dir() else {}
        return {step: fields for step, fields in found.items() if fields is not None}

    def record_commit(self, step: str, rows: int) -> None:
        """A sink committed (so a run killed later can be settled without re-reading)."""
        write_json_atomic(self.path / "commits" / f"{step}.json", {"step": step, "rows": rows})

    def committed(self) -> set[str]:
        folder = self.path / "commits"
        return {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()

    def record_error(self, step: str, error: DtegError) -> None:
        """The typed error a stage raised, kept because runners hand errors back as text."""
        folder = self.path / "errors"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        try:
            data = pickle.dumps((step, error))
        except Exception:  # an unpicklable attribute: keep the text, which is what users read
            data = pickle.dumps((step, RunError(str(error))))
        tmp.write_bytes(data)
        tmp.replace(folder / f"{step}.{uuid.uuid4().hex[:8]}.pickle")

    def errors(self) -> list[tuple[str, DtegError]]:
        """Errors stages recorded, oldest first."""
        folder = self.path / "errors"
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime_ns):
            try:
                found.append(pickle.loads(path.read_bytes()))
            except Exception:
                continue
        return found

    # --- written by the launcher ---------------------------------------------------------

    def write_owner(self, *, pid: int, pipeline: str, sinks: dict[str, str]) -> None:
        """Who runs this folder, and each sink's write mode (to settle a killed run)."""
        write_json_atomic(self.path / "owner.json",
                          {"pid": pid, "run_id": self.run_id, "pipeline": pipeline,
                           "sinks": sinks})

    def owner(self) -> dict[str, Any] | None:
        data = read_json(self.path / "owner.json")
        return data if isinstance(data, dict) else None

    def write_pending_state(self, items: dict[str, dict[str, Any]]) -> None:
        """State entries (cursors, finished backfill partitions) to save once every sink
        committed."""
        write_json_atomic(self.path / "state" / "pending.json", items)

    def pending_state(self) -> dict[str, dict[str, Any]]:
        data = read_json(self.path / "state" / "pending.json")
        return data if isinstance(data, dict) else {}

    # --- files of streams ----------------------------------------------------------------

    @property
    def timestamps_dir(self) -> Path:
        """Where sources leave their records' event times (end-to-end latency)."""
        return self.path / "timestamps"

    @property
    def pending_checkpoint_dir(self) -> Path:
        """Where stateful stages leave their new state until the launcher promotes it."""
        return self.path / "pending"

    def clear_micro_batch(self) -> None:
        """Forget what the last micro-batch left (its commit markers, new state, event times)
        before the next one runs in the same folder."""
        for folder in (self.path / "commits", self.pending_checkpoint_dir, self.timestamps_dir):
            shutil.rmtree(folder, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
