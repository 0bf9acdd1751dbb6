"""What the store hands out: plain frozen records, never ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# A run's life: queued → dispatched → running → succeeded | failed. Between attempts it is
# queued again (``not_before`` = when the retry may start).
ACTIVE = ("dispatched", "running")
FINISHED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class PipelineRow:
    name: str
    path: str
    sha256: str
    schedule: str | None
    paused: bool
    error: str | None
    updated_at: datetime
    last_tick: datetime | None
    last_success: datetime | None
    freshness_alerted: datetime | None = None


@dataclass(frozen=True)
class RunRow:
    id: str
    pipeline: str
    dedupe_key: str
    sha256: str
    kind: str
    scheduled_at: datetime | None
    status: str
    attempt: int
    max_attempts: int
    not_before: datetime
    created_at: datetime
    dispatched_at: datetime | None = None
    started_at: datetime | None = None
    first_read_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = None
    error: str | None = None
    retriable: bool | None = None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_dead_lettered: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    triggered_by: str | None = None
    summary: dict[str, Any] | None = None
    sla_alerted: bool = False
    handled_attempt: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True)
class AttemptRow:
    run_id: str
    number: int
    worker: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None
    retriable: bool | None
    seconds: float | None


@dataclass(frozen=True)
class LogLine:
    id: int
    run_id: str
    attempt: int
    at: datetime
    level: str
    step: str | None
    message: str


@dataclass(frozen=True)
class ProcessRow:
    id: str
    role: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    current_run: str | None
