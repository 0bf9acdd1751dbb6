"""an index for listing runs newest first (the API's cursor pagination)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dteg_runs", schema=None) as batch_op:
        batch_op.create_index("ix_dteg_runs_created_at_id", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dteg_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_dteg_runs_created_at_id")
