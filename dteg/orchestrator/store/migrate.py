"""Bring a store's tables to the newest migration (Alembic, in ``migrations/``).

``MigrationChain`` is one Alembic chain in the server's database: the orchestrator's tables
here, the access-control tables (``dteg.auth.migrate``) beside them, each with its own
version table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class MigrationChain:
    folder: Path
    version_table: str
    lock_key: int  # PostgreSQL advisory lock: one migrating process at a time

    def config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.folder))
        return config

    def head(self) -> str:
        revision = ScriptDirectory.from_config(self.config()).get_current_head()
        assert revision is not None
        return revision

    def current(self, engine: Engine) -> str | None:
        with engine.connect() as connection:
            return MigrationContext.configure(
                connection, opts={"version_table": self.version_table}).get_current_revision()

    def upgrade(self, engine: Engine) -> None:
        """Apply every migration the database lacks (a no-op when it is current). Several
        processes may open a new store at once: the upgrade runs in one transaction per
        backend lock."""
        if self.current(engine) == self.head():
            return
        config = self.config()
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # One migrating process at a time (the others wait, then find it current).
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({self.lock_key})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "dteg_alembic_version"
CHAIN = MigrationChain(MIGRATIONS, VERSION_TABLE, 7306841)
alembic_config, head, current, upgrade = CHAIN.config, CHAIN.head, CHAIN.current, CHAIN.upgrade
