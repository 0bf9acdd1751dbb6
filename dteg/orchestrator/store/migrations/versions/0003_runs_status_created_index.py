"""an index for listing runs of one status newest first (/api/v1/runs?status=…)

Without it SQLite takes ``ix_dteg_runs_status_not_before`` for ``status = ?`` and sorts every
run of that status: with 100,000 runs, ``?status=succeeded`` cost ~1 s of SQL (2 s in the
API) for a page of 50 (bench/api_bench.py); with it, 0.4 ms.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dteg_runs", schema=None) as batch_op:
        batch_op.create_index("ix_dteg_runs_status_created_at_id",
                              ["status", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dteg_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_dteg_runs_status_created_at_id")
