"""The orchestrator's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create
them; ``tests/unit/orchestrator/test_store_migrations.py`` checks that the two agree.

A scheduled run is unique on (pipeline, dedupe key): the key is ``tick:<UTC time>`` for a
schedule tick, ``after:<run id>`` for a run triggered by another pipeline's run, and the run id
for manual runs and backfill partitions. Two schedulers or a restarted one therefore never
create a tick's run twice.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone: stored naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


# Constraint and index names (the migrations spell them; dteg.auth's tables use them too).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

revisions = Table(
    "dteg_revisions", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("pipeline", String(200), nullable=False, index=True),
    Column("path", Text, nullable=False),
    Column("yaml_text", Text, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
)

pipelines = Table(
    "dteg_pipelines", metadata,
    Column("name", String(200), primary_key=True),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("schedule", String(200)),
    Column("paused", Boolean, nullable=False, default=False),
    # The newest revision that did not compile (the last good one keeps running).
    Column("error", Text),
    Column("error_sha256", String(64)),
    Column("updated_at", UtcDateTime, nullable=False),
    # The newest tick the scheduler has decided on; catch-up starts after it.
    Column("last_tick", UtcDateTime),
    Column("last_success", UtcDateTime),
    Column("freshness_alerted", UtcDateTime),
)

runs = Table(
    "dteg_runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("pipeline", String(200), nullable=False),
    Column("dedupe_key", String(120), nullable=False),
    Column("sha256", String(64), nullable=False),
    # schedule | catchup | manual | backfill | trigger
    Column("kind", String(20), nullable=False),
    Column("scheduled_at", UtcDateTime),
    # queued → dispatched → running → succeeded | failed (queued again between attempts);
    # cancelled by an operator.
    Column("status", String(20), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=1),
    Column("not_before", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("dispatched_at", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("first_read_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("worker", String(200)),
    Column("error", Text),
    Column("retriable", Boolean),
    Column("rows_read", Integer),
    Column("rows_loaded", Integer),
    Column("rows_dead_lettered", Integer),
    Column("params", JSON, nullable=False, default=dict),
    Column("triggered_by", String(64)),
    Column("summary", JSON),
    Column("sla_alerted", Boolean, nullable=False, default=False),
    # The orchestrator's watcher has acted on the newest change of this run (metrics,
    # alerts, triggers): the attempt whose end it handled.
    Column("handled_attempt", Integer, nullable=False, default=0),
    UniqueConstraint("pipeline", "dedupe_key"),
    Index("ix_dteg_runs_status_not_before", "status", "not_before"),
    Index("ix_dteg_runs_pipeline_created", "pipeline", "created_at"),
    Index("ix_dteg_runs_created_at_id", "created_at", "id"),
    Index("ix_dteg_runs_status_created_at_id", "status", "created_at", "id"),
)

attempts = Table(
    "dteg_attempts", metadata,
    Column("run_id", String(64), ForeignKey("dteg_runs.id", ondelete="CASCADE"),
           primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("worker", String(200)),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    # running | succeeded | failed | lost
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("retriable", Boolean),
    Column("seconds", Float),
)

step_counts = Table(
    "dteg_step_counts", metadata,
    Column("run_id", String(64), ForeignKey("dteg_runs.id", ondelete="CASCADE"),
           primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("step", String(200), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("rows_in", Integer, nullable=False, default=0),
    Column("rows_out", Integer, nullable=False, default=0),
    Column("dead_letter", Integer, nullable=False, default=0),
    Column("loaded", Integer, nullable=False, default=0),
)

quality_results = Table(
    "dteg_quality_results", metadata,
    Column("run_id", String(64), ForeignKey("dteg_runs.id", ondelete="CASCADE"),
           primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("passed", Boolean, nullable=False),
    Column("result", JSON, nullable=False),
)

log_lines = Table(
    "dteg_log_lines", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("dteg_runs.id", ondelete="CASCADE"),
           nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("level", String(10), nullable=False),
    Column("step", String(200)),
    Column("message", Text, nullable=False),
    Index("ix_dteg_log_lines_run_id_id", "run_id", "id"),
)

alert_deliveries = Table(
    "dteg_alert_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline", String(200), nullable=False),
    Column("run_id", String(64)),
    Column("alert_key", String(64), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("event", String(20), nullable=False),
    # sent | failed | throttled
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_dteg_alert_deliveries_key", "pipeline", "alert_key", "event", "at"),
)

processes = Table(
    "dteg_processes", metadata,
    # scheduler:<host>:<pid>:<start> or worker:<host>:<pid>:<start>
    Column("id", String(200), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("hostname", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("current_run", String(64)),
)
