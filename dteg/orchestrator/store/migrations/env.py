"""Alembic environment of the orchestrator's store: run by ``dteg.orchestrator.store.migrate``
(the store upgrades itself when it opens), on the connection it is given."""

from __future__ import annotations

from alembic import context

from dteg.orchestrator.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  version_table="dteg_alembic_version", render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
