"""Which component implements each ``type``: one built-in table plus entry points.

Nothing here imports a connector's heavy code: an entry names its config model and its
factory as ``"module:attribute"`` strings that are imported only when needed, so ``dteg
validate`` and ``dteg plan`` stay fast and Beam-free.

Third-party packages add components with entry points in the groups ``dteg.sources``,
``dteg.sinks`` and ``dteg.transforms``; each entry point names a ``ComponentInfo`` object.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Literal

from pydantic import BaseModel

from dteg.components.capabilities import Capabilities
from dteg.errors import ConfigError

Kind = Literal["source", "sink", "transform"]
ENTRY_POINT_GROUPS: dict[Kind, str] = {
    "source": "dteg.sources",
    "sink": "dteg.sinks",
    "transform": "dteg.transforms",
}


def import_ref(ref: str, *, extra: str | None = None) -> Any:
    """The object a ``"module:attribute"`` reference names. A missing module says what to
    install: the component's extra when it has one."""
    module, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        hint = (f"Install it with `pip install 'dteg[{extra}]'`." if extra else
                f"Install the package that provides `{exc.name or module}` (`pip install "
                f"{(exc.name or module).split('.')[0]}`), or the plugin that declares this "
                "component.")
        raise ConfigError(f"cannot import `{module}` (needed for `{ref}`): {exc}",
                          hint=hint) from None
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
    capabilities: Capabilities = field(default_factory=Capabilities)
    version: str = ""  # of the package that provides it (dteg's own for built-ins)

    def config_model(self) -> type[BaseModel]:
        model = import_ref(self.config, extra=self.capabilities.extra)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"{self.config} is not a pydantic model (component `{self.name}`)")
        return model

    def load_factory(self) -> Any:
        return import_ref(self.factory, extra=self.capabilities.extra)

    def build(self, settings: BaseModel, ctx: Any) -> Any:
        """The runtime object (reader, writer or stage) for validated ``settings``."""
        return self.load_factory()(settings, ctx)


_FILE_MODES = ("replace", "append", "error")
_TABLE_MODES = ("append", "replace", "merge")
_PLAIN = Capabilities()
_FILE_SINK = Capabilities(write_modes=_FILE_MODES)


def _pair(name: str, summary: str, aliases: tuple[str, ...] = (), *,
          source: Capabilities = _PLAIN, sink: Capabilities = _FILE_SINK,
          source_note: str = "", sink_note: str = "") -> list[ComponentInfo]:
    """A connector folder's source and sink (``dteg/connectors/<name>/``); a note is what
    only one side does (a source's incremental reads, a sink's write modes)."""
    pkg = f"dteg.connectors.{name}"
    return [
        ComponentInfo(name, "source", f"{pkg}.config:SourceConfig", f"{pkg}.source:create",
                      f"Read {summary}{source_note}", aliases, capabilities=source),
        ComponentInfo(name, "sink", f"{pkg}.config:SinkConfig", f"{pkg}.sink:create",
                      f"Write {summary}{sink_note}", aliases, capabilities=sink),
    ]


def _sql(name: str, what: str, aliases: tuple[str, ...]) -> list[ComponentInfo]:
    install = f"pip install 'dteg[{name}]'"
    return _pair(name, what, aliases,
                 source=Capabilities(incremental=True, extra=name),
                 sink=Capabilities(write_modes=_TABLE_MODES, extra=name,
                                   row_store=f"dteg.connectors.{name}.rows:create"),
                 source_note=f" (incremental, partitioned; {install})",
                 sink_note=f" (append, replace, merge; {install})")


BUILT_INS: tuple[ComponentInfo, ...] = (
    *_pair("csv", "CSV files (gzip/zstd; local paths, s3://, gs://)"),
    *_pair("jsonl", "JSON Lines files (gzip/zstd; local paths, s3://, gs://)",
           ("json", "ndjson")),
    *_pair("parquet", "Parquet files (local paths, s3://, gs://)",
           sink=Capabilities(write_modes=_FILE_MODES,
                             row_store="dteg.connectors.parquet.rows:create")),
    *_pair("avro", "Avro container files (fastavro; local paths, s3://, gs://)"),
    *_pair("google_sheets", "a Google Sheet through the Sheets v4 API with a service account "
           "(pip install 'dteg[sheets]')", ("sheets",),
           source=Capabilities(extra="sheets", resample=False),
           sink=Capabilities(write_modes=("append", "replace"), extra="sheets"),
           source_note=" (header row → columns, typed by `schema:`)",
           sink_note=" (append, replace)"),
    *_pair("duckdb", "DuckDB tables (the embedded default warehouse)",
           sink=Capabilities(write_modes=_TABLE_MODES,
                             row_store="dteg.connectors.duckdb.rows:create")),
    *_sql("postgres", "PostgreSQL tables", ("postgresql",)),
    *_sql("mysql", "MySQL/MariaDB tables", ("mariadb",)),
    *_pair("kafka", "Kafka topics (at-least-once; `dteg stream` runs until stopped; "
           "pip install 'dteg[kafka]')",
           source=Capabilities(offset_planner="dteg.connectors.kafka.offsets:create_planner",
                               extra="kafka"),
           sink=Capabilities(write_modes=("append",), extra="kafka")),
    ComponentInfo("http", "source", "dteg.connectors.http.config:SourceConfig",
                  "dteg.connectors.http.source:create",
                  "Read a REST API: GET/POST, pagination (page, offset, cursor, Link, next "
                  "URL), bearer/basic/API key/OAuth2 auth, rate limits, incremental",
                  ("rest",), capabilities=Capabilities(incremental=True, resample=False)),
    *_pair("salesforce", "Salesforce objects through Bulk API 2.0 (OAuth2 JWT bearer or "
           "client credentials)", ("salesforce-loader",),
           source=Capabilities(resample=False),
           sink=Capabilities(write_modes=("append", "merge")),
           source_note=" with a query job", sink_note=": insert, upsert by external id, "
           "update, delete; rejected records → dead letters"),
    ComponentInfo("postgres_cdc", "source", "dteg.connectors.postgres_cdc.config:SourceConfig",
                  "dteg.connectors.postgres_cdc.source:create",
                  "Read PostgreSQL inserts/updates/deletes by logical replication (pgoutput; "
                  "`dteg stream`; the slot advances only after every sink committed; "
                  "pip install 'dteg[postgres]')",
                  capabilities=Capabilities(
                      offset_planner="dteg.connectors.postgres_cdc.offsets:create_planner",
                      extra="postgres")),
    *_pair("mongodb", "MongoDB collections", ("mongo",),
           source=Capabilities(incremental=True, extra="mongodb"),
           sink=Capabilities(write_modes=_TABLE_MODES, extra="mongodb"),
           source_note=" or aggregation pipelines (incremental on a field, split into "
           "ranges; pip install 'dteg[mongodb]')",
           sink_note=" (insert, upsert by key, replace in unordered bulk writes; "
           "pip install 'dteg[mongodb]')"),
    ComponentInfo("snowflake", "sink", "dteg.connectors.snowflake.config:SinkConfig",
                  "dteg.connectors.snowflake.sink:create",
                  "Load Snowflake tables: staged Parquet + COPY INTO, append/replace/merge, "
                  "batch or stream (pip install 'dteg[snowflake]')",
                  capabilities=Capabilities(write_modes=_TABLE_MODES, extra="snowflake")),
    ComponentInfo("bigquery", "sink", "dteg.connectors.bigquery.config:SinkConfig",
                  "dteg.connectors.bigquery.sink:create",
                  "Load BigQuery tables: load jobs (batch) or streaming inserts (stream), "
                  "append/replace/merge (pip install 'dteg[bigquery]')",
                  capabilities=Capabilities(write_modes=_TABLE_MODES, extra="bigquery")),
    ComponentInfo("validate", "transform", "dteg.transforms.validate_config:ValidateConfig",
                  "dteg.transforms.validate:create",
                  "Check rules; failing rows go to the dead-letter output",
                  capabilities=Capabilities(role="validate")),
    ComponentInfo("mask", "transform", "dteg.transforms.mask_config:MaskConfig",
                  "dteg.transforms.mask:create",
                  "Mask columns: hash, redact, partial, email, null, tokenize",
                  capabilities=Capabilities(masks=True)),
    ComponentInfo("encrypt", "transform", "dteg.transforms.encrypt_config:EncryptConfig",
                  "dteg.transforms.encrypt:create_encrypt",
                  "Encrypt columns with AES-256-GCM (keys from env, file or Vault)",
                  capabilities=Capabilities(masks=True)),
    ComponentInfo("decrypt", "transform", "dteg.transforms.encrypt_config:DecryptConfig",
                  "dteg.transforms.encrypt:create_decrypt",
                  "Decrypt encrypted values and tokens; wrong key or altered value → error"),
    ComponentInfo("filter", "transform", "dteg.transforms.filter_config:FilterConfig",
                  "dteg.transforms.filter:create",
                  "Keep rows matching a SQL predicate; others are counted as filtered"),
    ComponentInfo("map", "transform", "dteg.transforms.map_config:MapConfig",
                  "dteg.transforms.map:create",
                  "Add, replace, rename or drop columns with SQL expressions"),
    ComponentInfo("window", "transform", "dteg.transforms.window:WindowConfig",
                  "dteg.transforms.window:create",
                  "Event-time windows (fixed, sliding, session); late rows → dead letters",
                  capabilities=Capabilities(stateful=True)),
    ComponentInfo("aggregate", "transform", "dteg.transforms.aggregate:AggregateConfig",
                  "dteg.transforms.aggregate:create",
                  "Group (per window) and compute count, sum, min, max, avg",
                  capabilities=Capabilities(role="aggregate", stateful=True)),
    ComponentInfo("dbt", "transform", "dteg.transforms.dbt_config:DbtConfig",
                  "dteg.transforms.dbt:create", "Run dbt models after the load has committed",
                  capabilities=Capabilities(role="post_load")),
)


@dataclass(frozen=True)
class Registry:
    components: tuple[ComponentInfo, ...]

    def names(self, kind: Kind) -> list[str]:
        return sorted({c.name for c in self.components if c.kind == kind})

    def find(self, kind: Kind, name: str) -> ComponentInfo | None:
        """The component of that name, else the one with that alias: an installed package
        named like a built-in's alias (`salesforce-loader`) is the one a pipeline gets."""
        wanted = name.lower()
        named = [c for c in self.components if c.kind == kind and c.name == wanted]
        aliased = [c for c in self.components if c.kind == kind and wanted in c.aliases]
        found = named or aliased
        return found[0] if found else None

    def closest(self, kind: Kind, name: str) -> str | None:
        candidates = [n for c in self.components if c.kind == kind for n in (c.name, *c.aliases)]
        match = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.6)
        return match[0] if match else None


def _entry_point_components() -> list[ComponentInfo]:
    found: list[ComponentInfo] = []
    # One scan of the installed distributions for all three groups: each scan reads every
    # package's metadata (~10 ms in a venv with Beam and dbt), and `validate` pays it.
    installed = entry_points()
    for kind, group in ENTRY_POINT_GROUPS.items():
        for ep in installed.select(group=group):
            info = ep.load()
            if not isinstance(info, ComponentInfo) or info.kind != kind:
                raise ConfigError(
                    f"entry point `{ep.name}` in group `{group}` ({ep.value}) must name a "
                    f"dteg.components.registry.ComponentInfo of kind `{kind}`",
                    hint="Fix or uninstall the package that declares it.",
                )
            origin = ep.dist.name if ep.dist else "entry point"
            version = info.version or (ep.dist.version if ep.dist else "")
            found.append(dataclasses.replace(info, origin=origin, version=version))
    return found


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Built-ins first, so a plugin cannot silently replace one."""
    from dteg.version import __version__

    built_ins = tuple(dataclasses.replace(c, version=c.version or __version__)
                      for c in BUILT_INS)
    return Registry((*built_ins, *_entry_point_components()))
