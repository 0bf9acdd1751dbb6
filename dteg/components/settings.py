"""Bases for components' settings models. The engine asks a step's validated settings what it
needs through these methods (a write mode, a cursor, micro-batch limits), never by probing
attribute names; a settings model that is a plain ``BaseModel`` gets the defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

# The OpenLineage identity of the dataset a step reads or writes: (namespace, name).
Dataset = tuple[str, str]


@dataclass(frozen=True)
class StreamLimits:
    """When a sink with ``strategy: stream`` commits a micro-batch: whichever comes first."""

    rows: int | None
    bytes: int | None
    seconds: float | None


class ComponentSettings(BaseModel):
    """What every component's settings may answer."""

    # Built on first use, not on import: a connector's config module holds its source's and
    # its sink's settings (and their shared bases), and a pipeline checks only the ones it uses.
    model_config = ConfigDict(defer_build=True)

    def preflight(self, base_dir: Path) -> list[str]:
        """Problems found without reading any data (a local input that does not exist, a SQL
        expression that does not parse …), one sentence each, saying what to do. ``dteg
        validate`` reports them and ``dteg run`` refuses to start on them; remote stores
        (s3://, gs://) are not contacted."""
        return []


class SourceSettings(ComponentSettings):
    """Settings of a source."""

    def cursor_column(self) -> str | None:
        """The incremental cursor column, when the step reads incrementally (the reader then
        implements ``dteg.components.contracts.IncrementalReader``)."""
        return None

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset | None:
        """What lineage calls the data this source reads (None: ``dteg://<type>``)."""
        return None


class SinkSettings(ComponentSettings):
    """Settings of a sink."""

    def write_mode(self) -> str:
        """``append`` adds rows, ``merge`` upserts on a key, ``replace`` swaps the target,
        ``error`` refuses an existing one. Settling a killed run and streams read it."""
        return "append"

    def stream_limits(self) -> StreamLimits | None:
        """Micro-batch limits with ``strategy: stream``; None commits once per run."""
        return None

    def database_file(self, base_dir: Path) -> Path | None:
        """A local database file this sink writes (DuckDB), for post-load steps (dbt)."""
        return None

    def lineage_dataset(self, base_dir: Path, step: str) -> Dataset | None:
        """What lineage calls the data this sink writes (None: ``dteg://<type>``)."""
        return None


class StageSettings(ComponentSettings):
    """Settings of a row stage."""

    def masked_columns(self) -> set[str]:
        """Columns this stage masks or encrypts (the restricted-access guard counts them as
        protected)."""
        return set()

    def created_columns(self) -> set[str]:
        """Columns this stage adds (or renames into): they do not exist at the extract, where
        ``security.data_masking`` runs."""
        return set()

    def unkeyed_hashes(self) -> list[str]:
        """Columns it hashes without a key: plain SHA-256, which anyone can reverse for
        guessable values (emails, phone numbers) by hashing candidates."""
        return []

    def required_env(self) -> list[str]:
        """Environment variables it reads at run time because its settings name nothing
        else (a key): ``dteg run`` refuses to start while one is unset."""
        return []


class PostLoadSettings(ComponentSettings):
    """Settings of a step that runs after the loads committed (dbt)."""


def created_columns(settings: Any) -> set[str]:
    return settings.created_columns() if isinstance(settings, StageSettings) else set()


def unkeyed_hashes(settings: Any) -> list[str]:
    return settings.unkeyed_hashes() if isinstance(settings, StageSettings) else []


def write_mode(settings: Any) -> str:
    return settings.write_mode() if isinstance(settings, SinkSettings) else "append"


def stream_limits(settings: Any) -> StreamLimits | None:
    return settings.stream_limits() if isinstance(settings, SinkSettings) else None


def cursor_column(settings: Any) -> str | None:
    return settings.cursor_column() if isinstance(settings, SourceSettings) else None


def lineage_dataset(settings: Any, base_dir: Path, step: str) -> Dataset | None:
    if isinstance(settings, SourceSettings | SinkSettings):
        return settings.lineage_dataset(base_dir, step)
    return None


def required_env(settings: Any) -> list[str]:
    return settings.required_env() if isinstance(settings, StageSettings) else []


def masked_columns(settings: Any) -> set[str]:
    return settings.masked_columns() if isinstance(settings, StageSettings) else set()


def database_file(settings: Any, base_dir: Path) -> Path | None:
    return settings.database_file(base_dir) if isinstance(settings, SinkSettings) else None


def preflight(settings: Any, base_dir: Path) -> list[str]:
    return settings.preflight(base_dir) if isinstance(settings, ComponentSettings) else []
