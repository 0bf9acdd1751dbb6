"""Write a dbt ``sources.yml`` from what a pipeline loads into DuckDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dteg.components.settings import database_file
from dteg.errors import ConfigError
from dteg.spec.models import PipelineSpec


def sources_yaml(spec: PipelineSpec) -> str:
    import duckdb

    tables: dict[Path, list[str]] = {}
    for step in spec.sinks():
        database = database_file(step.settings, spec.base_dir)
        if database is not None:
            tables.setdefault(database, []).append(str(step.config["table"]))
    if not tables:
        raise ConfigError(f"{spec.file}: no load step writes to DuckDB",
                          hint="`dteg dbt sources` describes DuckDB tables the pipeline loads.")
    sources: list[dict[str, Any]] = []
    for database, names in tables.items():
        if not database.exists():
            raise ConfigError(f"{database} does not exist yet",
                              hint=f"Run the pipeline first: dteg run {spec.file}")
        con = duckdb.connect(str(database), read_only=True)
        try:
            by_schema: dict[str, list[dict[str, Any]]] = {}
            for name in names:
                schema, _, table = name.rpartition(".")
                schema = schema or "main"
                rows = con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE "
                    "table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                    [schema, table]).fetchall()
                by_schema.setdefault(schema, []).append({
                    "name": table,
                    "description": f"Loaded by dteg pipeline `{spec.name}`",
                    "columns": [{"name": c, "data_type": t} for c, t in rows],
                })
        finally:
            con.close()
        for schema, entries in by_schema.items():
            sources.append({"name": spec.name if len(tables) == 1 else f"{spec.name}_{schema}",
                            "schema": schema, "tables": entries})
    return yaml.safe_dump({"version": 2, "sources": sources}, sort_keys=False)
