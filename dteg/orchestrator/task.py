"""The message that tells a worker to run one attempt of one run.

It carries the pipeline's YAML text and its sha256, so a worker runs exactly the revision the
scheduler dispatched (never a file that changed since, never a stale copy on its own disk);
the file's path is kept because relative paths in the pipeline are relative to it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunTask:
    run_id: str
    attempt: int
    pipeline: str
    path: str
    yaml_text: str
    sha256: str
    kind: str
    max_attempts: int
    scheduled_at: str | None = None  # ISO 8601, UTC
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def engine_run_id(self) -> str:
        """The run id the engine records (run folder, run records, lineage): the
        orchestrator's id, with the attempt from the second attempt on."""
        return self.run_id if self.attempt == 1 else f"{self.run_id}.{self.attempt}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunTask:
        return cls(**json.loads(text))
