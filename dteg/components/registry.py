"""Which component implements each ``type``: one built-in table plus entry points.

Nothing here imports a connector's heavy code: an entry names its config model and its
factory as ``"module:attribute"`` strings that are imported only when needed, so ``dteg
validate`` and ``dteg plan`` stay fast and Beam-free.

Third-party packages add components with entry points in the groups ``dteg.sources``,
``dteg.sinks`` and ``dteg.transforms``; each entry point names a ``ComponentInfo`` object.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Literal

from pydantic import BaseModel

from dteg.errors import ConfigError

Kind = Literal["source", "sink", "transform"]
ENTRY_POINT_GROUPS: dict[Kind, str] = {
    "source": "dteg.sources",
    "sink": "dteg.sinks",
    "transform": "dteg.transforms",
}


def _import(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"cannot import `{module}` (needed for `{ref}`): {exc}",
            hint="Install the package that provides it, e.g. `pip install dteg[<extra>]`.",
        ) from None
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class ComponentInfo:
    """A source, sink or transform that a step's ``type`` can name."""

    name: str
    kind: Kind
    config: str = field(metadata={"doc": "module:Class of the pydantic config model"})
    factory: str = field(metadata={"doc": "module:function building the runtime object"})
    summary: str = ""
    aliases: tuple[str, ...] = ()
    origin: str = "built-in"

    def config_model(self) -> type[BaseModel]:
        model = _import(self.config)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"{self.config} is not a pydantic model (component `{self.name}`)")
        return model

    def load_factory(self) -> Any:
        return _import(self.factory)


def _files(name: str, fmt: str, summary: str, aliases: tuple[str, ...] = ()) -> list[ComponentInfo]:
    pkg = f"dteg.connectors.{name}"
    return [
        ComponentInfo(fmt, "source", f"{pkg}.config:SourceConfig", f"{pkg}.source:create",
                      f"Read {summary}", aliases),
        ComponentInfo(fmt, "sink", f"{pkg}.config:SinkConfig", f"{pkg}.sink:create",
                      f"Write {summary}", aliases),
    ]


BUILT_INS: tuple[ComponentInfo, ...] = (
    *_files("csv", "csv", "CSV files (gzip/zstd; local paths, s3://, gs://)"),
    *_files("jsonl", "jsonl", "JSON Lines files (gzip/zstd)", ("json", "ndjson")),
    *_files("parquet", "parquet", "Parquet files (local paths, s3://, gs://)"),
    *_files("avro", "avro", "Avro container files (fastavro)"),
    *_files("duckdb", "duckdb", "DuckDB tables (the embedded default warehouse)"),
    *_files("postgres", "postgres", "PostgreSQL tables (incremental, partitioned; "
            "pip install 'dteg[postgres]')", ("postgresql",)),
    *_files("mysql", "mysql", "MySQL/MariaDB tables (incremental, partitioned; "
            "pip install 'dteg[mysql]')", ("mariadb",)),
    *_files("kafka", "kafka", "Kafka topics (at-least-once; `dteg stream` runs until stopped; "
            "pip install 'dteg[kafka]')"),
    ComponentInfo("snowflake", "sink", "dteg.connectors.snowflake.config:SinkConfig",
                  "dteg.connectors.snowflake.sink:create",
                  "Load Snowflake tables: staged Parquet + COPY INTO, append/replace/merge, "
                  "batch or stream (pip install 'dteg[snowflake]')"),
    ComponentInfo("bigquery", "sink", "dteg.connectors.bigquery.config:SinkConfig",
                  "dteg.connectors.bigquery.sink:create",
                  "Load BigQuery tables: load jobs (batch) or streaming inserts (stream), "
                  "append/replace/merge (pip install 'dteg[bigquery]')"),
    ComponentInfo("validate", "transform", "dteg.transforms.validate:ValidateConfig",
                  "dteg.transforms.validate:create",
                  "Check rules; failing rows go to the dead-letter output"),
    ComponentInfo("mask", "transform", "dteg.transforms.mask:MaskConfig",
                  "dteg.transforms.mask:create",
                  "Mask columns: hash, redact, partial, email, null, tokenize"),
    ComponentInfo("encrypt", "transform", "dteg.transforms.encrypt:EncryptConfig",
                  "dteg.transforms.encrypt:create_encrypt",
                  "Encrypt columns with AES-256-GCM (keys from env, file or Vault)"),
    ComponentInfo("decrypt", "transform", "dteg.transforms.encrypt:DecryptConfig",
                  "dteg.transforms.encrypt:create_decrypt",
                  "Decrypt encrypted values and tokens; wrong key or altered value → error"),
    ComponentInfo("filter", "transform", "dteg.transforms.filter:FilterConfig",
                  "dteg.transforms.filter:create",
                  "Keep rows matching a SQL predicate; others are counted as filtered"),
    ComponentInfo("map", "transform", "dteg.transforms.map:MapConfig",
                  "dteg.transforms.map:create",
                  "Add, replace, rename or drop columns with SQL expressions"),
    ComponentInfo("window", "transform", "dteg.transforms.window:WindowConfig",
                  "dteg.transforms.window:create",
                  "Event-time windows (fixed, sliding, session); late rows → dead letters"),
    ComponentInfo("aggregate", "transform", "dteg.transforms.aggregate:AggregateConfig",
                  "dteg.transforms.aggregate:create",
                  "Group (per window) and compute count, sum, min, max, avg"),
    ComponentInfo("dbt", "transform", "dteg.transforms.dbt:DbtConfig",
                  "dteg.transforms.dbt:create", "Run dbt models after the load has committed"),
)


@dataclass(frozen=True)
class Registry:
    components: tuple[ComponentInfo, ...]

    def names(self, kind: Kind) -> list[str]:
        return sorted({c.name for c in self.components if c.kind == kind})

    def find(self, kind: Kind, name: str) -> ComponentInfo | None:
        wanted = name.lower()
        for c in self.components:
            if c.kind == kind and (c.name == wanted or wanted in c.aliases):
                return c
        return None

    def closest(self, kind: Kind, name: str) -> str | None:
        candidates = [n for c in self.components if c.kind == kind for n in (c.name, *c.aliases)]
        match = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.6)
        return match[0] if match else None


def _entry_point_components() -> list[ComponentInfo]:
    found: list[ComponentInfo] = []
    for kind, group in ENTRY_POINT_GROUPS.items():
        for ep in entry_points(group=group):
            info = ep.load()
            if not isinstance(info, ComponentInfo) or info.kind != kind:
                raise ConfigError(
                    f"entry point `{ep.name}` in group `{group}` ({ep.value}) must name a "
                    f"dteg.components.registry.ComponentInfo of kind `{kind}`",
                    hint="Fix or uninstall the package that declares it.",
                )
            origin = ep.dist.name if ep.dist else "entry point"
            found.append(
                ComponentInfo(info.name, info.kind, info.config, info.factory, info.summary,
                              info.aliases, origin)
            )
    return found


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Built-ins first, so a plugin cannot silently replace one."""
    return Registry((*BUILT_INS, *_entry_point_components()))
