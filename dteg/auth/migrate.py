"""Bring the access-control tables to the newest migration (Alembic, ``migrations/``; its
own version table beside the orchestrator's)."""

from __future__ import annotations

from pathlib import Path

from dteg.orchestrator.store.migrate import MigrationChain

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "dteg_auth_alembic_version"
CHAIN = MigrationChain(MIGRATIONS, VERSION_TABLE, 7306842)
alembic_config, head, current, upgrade = CHAIN.config, CHAIN.head, CHAIN.current, CHAIN.upgrade
