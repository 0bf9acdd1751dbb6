"""OIDC single sign-on: pending logins, and the provider's id of each SSO user

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dteg.orchestrator.store.schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dteg_auth_oidc_logins",
        sa.Column("state_sha256", sa.String(length=64), nullable=False),
        sa.Column("browser_sha256", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=200), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("return_to", sa.Text(), nullable=False),
        sa.Column("created_at", dteg.orchestrator.store.schema.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("state_sha256", name=op.f("pk_dteg_auth_oidc_logins")),
    )
    with op.batch_alter_table("dteg_auth_oidc_logins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dteg_auth_oidc_logins_created_at"),
                              ["created_at"], unique=False)
    with op.batch_alter_table("dteg_auth_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=500), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_dteg_auth_users_external_id"),
                                          ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("dteg_auth_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_dteg_auth_users_external_id"), type_="unique")
        batch_op.drop_column("external_id")
    with op.batch_alter_table("dteg_auth_oidc_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dteg_auth_oidc_logins_created_at"))
    op.drop_table("dteg_auth_oidc_logins")
