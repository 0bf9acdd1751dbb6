"""Typed models of a pipeline file (the seed's format plus named steps and ``input:``).

Two layers:
* ``PipelineFile`` mirrors the YAML as written; it is what ``dteg schema`` exports.
* ``PipelineSpec`` / ``StepSpec`` are what the phases pass along: every step has a name, its
  inputs, its merged config and the ``Location`` it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from dteg.components.capabilities import Capabilities
from dteg.errors import Location
from dteg.spec.alerts import Alert
from dteg.spec.governance import OWNER_PATTERN, TAG_PATTERN, RetentionSpec
from dteg.spec.keyring import KeyConfig
from dteg.spec.loader import Path_, SourceMap
from dteg.spec.masking import MaskColumns
from dteg.spec.orchestration import FreshnessSpec, RetryPolicy, SlaSpec, TriggerSpec
from dteg.spec.rules import ValidationRule
from dteg.spec.schedule import Schedule, ScheduleSpec, schedule_spec
from dteg.spec.secrets import Redactor
from dteg.spec.tests_block import PipelineTest

SOURCE_KINDS = ("extract",)
SINK_KINDS = ("load",)
# Steps that carry their own type name (``- mask: {columns: [email]}`` means type ``mask``).
OWN_KINDS = ("validate", "mask", "encrypt", "decrypt", "filter", "map", "window", "aggregate")
# Own kinds whose `type:` is part of their config (`- window: {type: sliding}`).
CONFIG_TYPE_KINDS = ("window",)
TRANSFORM_KINDS = ("transform", *OWN_KINDS)
STEP_KINDS = (*SOURCE_KINDS, *SINK_KINDS, *TRANSFORM_KINDS)


# The environment variable an encrypt/decrypt step reads its key from when none is named.
DEFAULT_KEY_ENV = "DTEG_ENCRYPTION_KEY"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MarketplaceComponent(_Strict):
    """A component the pipeline uses from the marketplace, referred to as ``dteg://<name>``."""

    name: str
    version: str | None = None
    source: str = Field(description="Component id, e.g. dteg://streaming/kafka")


class Components(_Strict):
    marketplace: list[MarketplaceComponent] = Field(default_factory=list)


class SecuritySpec(_Strict):
    encryption: bool | list[str] = Field(
        default=False,
        description="Encrypt columns (AES-256-GCM) after masking: a list of columns, or true "
        "for `encrypt_columns` (default: the data_masking columns, which are then encrypted "
        "instead of masked)",
    )
    encrypt_columns: list[str] | None = Field(
        default=None, description="The columns `encryption: true` encrypts")
    encryption_key: SecretStr | None = Field(
        default=None, description="Encryption key text; use ${env:…} or ${file:…}. Default: "
        "the DTEG_ENCRYPTION_KEY environment variable, read at run time")
    encryption_key_id: str = Field(
        default="k1", pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Id written into each encrypted value (pick a new one when the key changes)")
    keys: list[KeyConfig] | None = Field(
        default=None, description="A keyring instead of encryption_key: [{id, key | env | file "
        "| vault | transit}, …]; the first encrypts, all decrypt")
    key_per: str | None = Field(
        default=None, description="Crypto-shredding: encrypt each row under a data key of its "
        "own subject (the value of this column, e.g. email; it must be one of the encrypted "
        "columns). `dteg privacy erase --subject <column>=…` destroys that key, so the "
        "subject's values stop decrypting in every file and topic they were written to")
    access_level: Literal["public", "internal", "restricted"] = Field(
        default="internal", description="restricted: refuse to load columns that look like "
        "personal data unless a mask or encrypt step covers them")
    data_masking: MaskColumns | None = Field(
        default=None,
        description="Columns to mask with the default strategy (hash), or column → strategy "
        "(hash, redact, partial, email, null, tokenize)",
    )
    masking_key: SecretStr | None = Field(
        default=None, description="Key for hash/tokenize masking; use ${env:…} or ${file:…}"
    )

    def encrypted_columns(self) -> list[str]:
        """The columns the encrypt policy step covers (empty when encryption is off)."""
        if isinstance(self.encryption, list):
            return list(self.encryption)
        if not self.encryption:
            return []
        if self.encrypt_columns is not None:
            return list(self.encrypt_columns)
        return list(self.data_masking or [])


class QualitySpec(_Strict):
    validation_rules: list[ValidationRule] = Field(
        default_factory=list, description="Checked on the raw rows right after each extract; "
        "a failing row is quarantined, dropped or fails the run (`on_failure`)")
    on_failure: Literal["quarantine", "drop", "fail"] = "quarantine"
    max_invalid_ratio: float | None = Field(default=None, ge=0, le=1)


class LineageSpec(_Strict):
    """Where OpenLineage events go."""

    transport: Literal["file", "http", "console", "none"] = "file"
    url: str | None = Field(default=None, description="http: the OpenLineage server, e.g. "
                            "http://localhost:5000 (OPENLINEAGE_URL also works)")
    endpoint: str = "api/v1/lineage"
    path: str = Field(default=".dteg/lineage/events.jsonl",
                      description="file: relative to the pipeline file")
    namespace: str = Field(default="dteg", description="The jobs' OpenLineage namespace")
    api_key: SecretStr | None = None


class MonitoringSpec(_Strict):
    alerts: list[Alert] = Field(
        default_factory=list, description="Sent by the orchestrator (dteg server) on run "
        "events; `dteg run` ignores them")
    sla: SlaSpec | None = Field(default=None, description="dteg server: a run still going "
                                "after `max_duration` sends the `sla` alert event")
    freshness: FreshnessSpec | None = Field(
        default=None, description="dteg server: no successful run for `max_age` sends the "
        "`freshness` alert event")
    metrics_port: int | None = None
    lineage: LineageSpec = Field(default_factory=LineageSpec)


class StepBody(BaseModel):
    """The body of one step. Keys other than these are merged into ``config``."""

    model_config = ConfigDict(extra="allow")
    type: str | None = Field(default=None, description="Built-in type name or dteg://component")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")
    input: str | list[str] | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class DeadLetterSpec(_Strict):
    """Where rejected records go. Default: JSON Lines under .dteg/dead_letter/<pipeline>/."""

    type: str = "jsonl"
    config: dict[str, Any] = Field(default_factory=dict)


class StateSpec(_Strict):
    """Where incremental cursors and backfill progress are kept."""

    type: Literal["sqlite", "postgres"] = "sqlite"
    path: str = Field(default=".dteg/state.sqlite",
                      description="sqlite: relative to the pipeline file")
    url: SecretStr | None = Field(default=None, description="postgres: postgresql://…")
    table: str = Field(default="dteg_state",
                       pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class PipelineBody(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str | None = None
    owners: list[Annotated[str, Field(pattern=OWNER_PATTERN)]] = Field(
        default_factory=list, description="Who answers for the data (emails or team names): "
        "shown in the catalog and the compliance report")
    tags: list[Annotated[str, Field(pattern=TAG_PATTERN)]] = Field(
        default_factory=list, description="Catalog tags of every dataset the pipeline writes")
    retention: RetentionSpec | None = Field(
        default=None, description="How long the loads keep rows: {column, keep: 400d, sinks: "
        "{step: {column, keep}}}; enforced by `dteg privacy retention` and dteg server")
    schedule: Schedule | None = Field(
        default=None, description="When the orchestrator (dteg server) runs the pipeline: five "
        "cron fields (minute hour day-of-month month day-of-week, e.g. \"0 6 * * mon-fri\"), "
        "an alias such as @daily, or {cron, timezone}; `dteg run` ignores it")
    components: Components = Field(default_factory=Components)
    security: SecuritySpec = Field(default_factory=SecuritySpec)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    steps: list[dict[str, StepBody]] = Field(min_length=1)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    dead_letter: DeadLetterSpec | None = None
    state: StateSpec | None = Field(
        default=None, description="Where incremental cursors and backfill progress are kept "
        "(default: SQLite in .dteg/state.sqlite)")
    retries: RetryPolicy = Field(
        default_factory=RetryPolicy, description="dteg server: how failed runs are retried "
        "(only failures that may pass on their own: connections, lost workers, timeouts)")
    trigger: TriggerSpec | None = Field(
        default=None, description="dteg server: run after other pipelines' runs succeed")

    def schedule_spec(self) -> ScheduleSpec | None:
        """``schedule:`` in either form (a plain cron text is read in UTC); its
        ``cron_schedule()`` gives the next run times."""
        return schedule_spec(self.schedule)


class PipelineFile(_Strict):
    """A dteg pipeline file."""

    pipeline: PipelineBody
    tests: list[PipelineTest] = Field(
        default_factory=list, description="Config unit tests, run offline by `dteg test "
        "pipeline.yaml`: rows per extract step in, expected rows per load step and dead "
        "letters out")


# ---------------------------------------------------------------------------------------------
# What the phases pass along


class StepSpec(BaseModel):
    """One step after normalization: named, typed, wired and located."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    kind: str
    name: str
    type: str
    inputs: tuple[str, ...] = ()
    config: dict[str, Any] = Field(default_factory=dict)
    location: Location
    # Where each config key was written (for errors about a single key).
    config_paths: dict[str, Path_] = Field(default_factory=dict)
    path: Path_ = ()
    # Set by the resolve phase: the registry entry that implements this step, and what it
    # can do.
    component: str | None = None
    capabilities: Capabilities = Field(default_factory=Capabilities)
    # Set by the config phase: ``config`` validated by the component's settings model. Every
    # later stage reads this, never ``config`` again.
    settings: BaseModel | None = None
    # Set by phases that insert steps (validate/mask from the pipeline's quality/security,
    # the dead-letter sink).
    generated_from: str | None = None
    # What the step takes from its inputs: their rows, or (the generated dead-letter sink)
    # the records they rejected.
    reads: Literal["rows", "dead_letters"] = "rows"

    @property
    def is_source(self) -> bool:
        return self.kind in SOURCE_KINDS

    @property
    def is_sink(self) -> bool:
        return self.kind in SINK_KINDS

    @property
    def is_dead_letter_sink(self) -> bool:
        """The generated sink every rejected record goes to."""
        return self.reads == "dead_letters"

    @property
    def runs_after_load(self) -> bool:
        """Post-load steps (dbt) run in the launcher once the loads they follow committed."""
        return self.capabilities.runs_after_load

    def validated(self) -> BaseModel:
        """The step's settings; only a spec that went through every phase has them."""
        if self.settings is None:
            raise RuntimeError(f"{self.where()}: its settings were not checked yet (run the "
                               "compile phases first: dteg.load or compile_spec)")
        return self.settings

    def where(self) -> str:
        return f"step `{self.name}` ({self.location})"


class PipelineSpec(BaseModel):
    """A whole pipeline after the phases."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    file: str
    base_dir: Path
    body: PipelineBody
    steps: tuple[StepSpec, ...] = ()
    source_map: SourceMap
    redactor: Redactor = Field(default_factory=Redactor)
    references: dict[Path_, str] = Field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    yaml_text: str = ""
    # The file's `tests:` block (not interpolated: its rows and env are taken as written).
    tests: tuple[PipelineTest, ...] = ()

    def step(self, name: str) -> StepSpec:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def sources(self) -> list[StepSpec]:
        return [s for s in self.steps if s.is_source]

    def consumers(self, name: str) -> list[StepSpec]:
        """The steps that read ``name``'s rows (the dead-letter sink reads its rejects)."""
        return [s for s in self.steps if name in s.inputs and not s.is_dead_letter_sink]

    def sinks(self) -> list[StepSpec]:
        """The loads of the pipeline (not the dead-letter sink)."""
        return [s for s in self.steps if s.is_sink and not s.is_dead_letter_sink]

    def dead_letter_sink(self) -> StepSpec | None:
        return next((s for s in self.steps if s.is_dead_letter_sink), None)

    @property
    def state_dir(self) -> Path:
        return self.base_dir / ".dteg"

