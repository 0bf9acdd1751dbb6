"""the orchestrator's first tables

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dteg.orchestrator.store.schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dteg_alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("alert_key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dteg_alert_deliveries")),
    )
    with op.batch_alter_table("dteg_alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dteg_alert_deliveries_key", ["pipeline", "alert_key", "event", "at"], unique=False
        )

    op.create_table(
        "dteg_pipelines",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("schedule", sa.String(length=200), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_sha256", sa.String(length=64), nullable=True),
        sa.Column("updated_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.Column("last_tick", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.Column("last_success", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.Column("freshness_alerted", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dteg_pipelines")),
    )
    op.create_table(
        "dteg_processes",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.Column("heartbeat_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.Column("current_run", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dteg_processes")),
    )
    op.create_table(
        "dteg_revisions",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("first_seen", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_dteg_revisions")),
    )
    with op.batch_alter_table("dteg_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dteg_revisions_pipeline"), ["pipeline"], unique=False)

    op.create_table(
        "dteg_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("scheduled_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.Column("created_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.Column("dispatched_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.Column("started_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.Column("first_read_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.Column("finished_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retriable", sa.Boolean(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=True),
        sa.Column("rows_loaded", sa.Integer(), nullable=True),
        sa.Column("rows_dead_lettered", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("triggered_by", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("sla_alerted", sa.Boolean(), nullable=False),
        sa.Column("handled_attempt", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dteg_runs")),
        sa.UniqueConstraint(
            "pipeline", "dedupe_key", name=op.f("uq_dteg_runs_pipeline_dedupe_key")
        ),
    )
    with op.batch_alter_table("dteg_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dteg_runs_pipeline_created", ["pipeline", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_dteg_runs_status_not_before", ["status", "not_before"], unique=False
        )

    op.create_table(
        "dteg_attempts",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("started_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.Column("finished_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retriable", sa.Boolean(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["dteg_runs.id"],
            name=op.f("fk_dteg_attempts_run_id_dteg_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "number", name=op.f("pk_dteg_attempts")),
    )
    op.create_table(
        "dteg_log_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["dteg_runs.id"],
            name=op.f("fk_dteg_log_lines_run_id_dteg_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dteg_log_lines")),
    )
    with op.batch_alter_table("dteg_log_lines", schema=None) as batch_op:
        batch_op.create_index("ix_dteg_log_lines_run_id_id", ["run_id", "id"], unique=False)

    op.create_table(
        "dteg_quality_results",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["dteg_runs.id"],
            name=op.f("fk_dteg_quality_results_run_id_dteg_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "attempt", name=op.f("pk_dteg_quality_results")),
    )
    op.create_table(
        "dteg_step_counts",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("rows_in", sa.Integer(), nullable=False),
        sa.Column("rows_out", sa.Integer(), nullable=False),
        sa.Column("dead_letter", sa.Integer(), nullable=False),
        sa.Column("loaded", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["dteg_runs.id"],
            name=op.f("fk_dteg_step_counts_run_id_dteg_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "attempt", "step", name=op.f("pk_dteg_step_counts")),
    )


def downgrade() -> None:
    op.drop_table("dteg_step_counts")
    op.drop_table("dteg_quality_results")
    with op.batch_alter_table("dteg_log_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_dteg_log_lines_run_id_id")

    op.drop_table("dteg_log_lines")
    op.drop_table("dteg_attempts")
    with op.batch_alter_table("dteg_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_dteg_runs_status_not_before")
        batch_op.drop_index("ix_dteg_runs_pipeline_created")

    op.drop_table("dteg_runs")
    with op.batch_alter_table("dteg_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dteg_revisions_pipeline"))

    op.drop_table("dteg_revisions")
    op.drop_table("dteg_processes")
    op.drop_table("dteg_pipelines")
    with op.batch_alter_table("dteg_alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_dteg_alert_deliveries_key")

    op.drop_table("dteg_alert_deliveries")
