"""Alembic environment of the access-control tables: run by ``dteg.auth.migrate`` on the
connection it is given (its own version table, beside the orchestrator's)."""

from __future__ import annotations

from alembic import context

from dteg.auth.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  version_table="dteg_auth_alembic_version", render_as_batch=True,
                  include_name=lambda name, type_, _parent: type_ != "table"
                  or name is None or name.startswith(("dteg_auth_", "dteg_audit_")))
with context.begin_transaction():
    context.run_migrations()
