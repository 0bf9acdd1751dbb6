"""The ``dteg-component.yaml`` manifest: what a marketplace component is, what it needs and what
it promises (the product description's component standard), validated with the file's lines.

    name: my-connector
    version: 0.1.0
    author: Jane Doe <jane@example.com>
    description: Reads widgets from the Widget API
    kind: extractor            # extractor | loader | transformer | processor
    category: api
    pricing: free              # free | {tier: premium, price: 49, unit: month, currency: USD}
    package: dteg-my-connector # the wheel's distribution name
    provides: [{kind: source, name: my-connector}]
    compatibility: {framework_versions: ">=0.1,<1", python_versions: ">=3.10"}
    documentation: {overview: docs/overview.md, configuration: docs/configuration.md,
                    examples: docs/examples.md, troubleshooting: docs/troubleshooting.md}
    quality_gates: {required: {test_coverage: 80}}
    performance: {rows: 100000, min_rows_per_second: 20000}
    allowed_hosts: [api.widgets.example]
    breaking_changes: [{version: 2.0.0, change: "…", migration: "…"}]

``dteg schema --component`` prints its JSON Schema, so editors check it as it is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dteg.errors import Location, SpecError
from dteg.spec.loader import load_yaml_file
from dteg.spec.model_errors import located_errors

MANIFEST_FILE = "dteg-component.yaml"
# The four documentation sections of the component standard, in the order docs show them.
DOC_SECTIONS: tuple[str, ...] = ("overview", "configuration", "examples", "troubleshooting")
# What the standard requires of every published component; a manifest may ask more, never less.
MIN_COVERAGE = 80.0

ComponentKind = Literal["extractor", "loader", "transformer", "processor"]
# Which registry kinds (entry-point groups) each component kind may provide.
PROVIDED_KINDS: dict[str, tuple[str, ...]] = {
    "extractor": ("source",),
    "loader": ("sink",),
    "transformer": ("transform",),
    "processor": ("transform", "source", "sink"),
}
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# Strict semver (MAJOR.MINOR.PATCH, optional pre-release): versions are compared to refuse a
# publish that does not go up, and `1.0` vs `1.0.0` would be an argument, not a rule.
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _semver(value: str) -> str:
    if not _SEMVER.match(value):
        raise ValueError(f"`{value}` is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.2.0)")
    return value


def _specifier(value: str) -> str:
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        raise ValueError(f"`{value}` is not a version range (e.g. `>=0.1,<1`)") from None
    return value


class Pricing(_Model):
    """What a component costs: ``free``; ``premium`` at a price per month or per million rows
    (served only to holders of a licence); ``enterprise`` (licensed per organisation, price
    by contract)."""

    tier: Literal["free", "premium", "enterprise"] = "free"
    price: float | None = Field(default=None, gt=0,
                                description="Price per `unit` (premium), e.g. 49.0")
    unit: Literal["month", "million_rows"] | None = Field(
        default=None, description="What `price` is per: `month` or `million_rows`")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$",
                          description="ISO 4217 code, e.g. USD, EUR")

    @model_validator(mode="after")
    def _priced(self) -> Pricing:
        if self.tier == "premium" and (self.price is None or self.unit is None):
            raise ValueError("a premium component needs `price` and `unit` (month or "
                             "million_rows), e.g. `pricing: {tier: premium, price: 49, "
                             "unit: month, currency: USD}`")
        if self.tier == "free" and (self.price is not None or self.unit is not None):
            raise ValueError("a free component has no `price` or `unit`; use `tier: premium`")
        return self

    def label(self) -> str:
        """``free``, ``premium 49.00 USD/month``, ``enterprise``."""
        if self.tier != "premium":
            return self.tier
        unit = "month" if self.unit == "month" else "million rows"
        return f"premium {self.price:.2f} {self.currency}/{unit}"


class Compatibility(_Model):
    framework_versions: str = Field(
        ..., description="dteg versions it works with, a PEP 440 range such as `>=0.1,<1`")
    python_versions: str = Field(default=">=3.10",
                                 description="Python versions, e.g. `>=3.10,<3.13`")
    system_requirements: list[str] = Field(
        default_factory=list, description="What the machine needs besides Python (free text)")

    @field_validator("framework_versions", "python_versions")
    @classmethod
    def _ranges(cls, value: str) -> str:
        return _specifier(value)

    def accepts(self, dteg_version: str, python_version: str) -> list[str]:
        """Why this component cannot run on these versions (nothing: it can)."""
        reasons = []
        if Version(dteg_version) not in SpecifierSet(self.framework_versions,
                                                     prereleases=True):
            reasons.append(f"needs dteg {self.framework_versions}, this is dteg {dteg_version}")
        if Version(python_version) not in SpecifierSet(self.python_versions):
            reasons.append(f"needs Python {self.python_versions}, this is Python "
                           f"{python_version}")
        return reasons


class Documentation(_Model):
    """Each section's Markdown file, relative to the folder of the manifest."""

    overview: str = "docs/overview.md"
    configuration: str = "docs/configuration.md"
    examples: str = "docs/examples.md"
    troubleshooting: str = "docs/troubleshooting.md"


class RequiredGates(_Model):
    security_scan: Literal["pass"] = "pass"
    test_coverage: float = Field(default=MIN_COVERAGE, ge=MIN_COVERAGE, le=100,
                                 description="Line coverage of its own tests, percent (≥ 80)")
    documentation: Literal["complete"] = "complete"
    performance_test: Literal["pass"] = "pass"


class OptionalGates(_Model):
    """Shown by the registry as badges; never refuse a publish (a new component has none)."""

    community_rating: float = Field(default=4.0, ge=0, le=5)
    monthly_downloads: int = Field(default=1000, ge=0)


class QualityGates(_Model):
    required: RequiredGates = Field(default_factory=RequiredGates)
    optional: OptionalGates = Field(default_factory=OptionalGates)


class Performance(_Model):
    """The performance test: rows/s through the component on a standard generated input."""

    rows: int = Field(default=100_000, ge=1_000, le=10_000_000,
                      description="Rows in the generated input")
    min_rows_per_second: float = Field(..., gt=0, description="The floor the test must reach")
    config: dict[str, Any] = Field(
        default_factory=dict, description="The step's config for the test; the text `{input}` "
        "stands for the generated JSON Lines file, `{output}` for an empty folder")
    setup: str | None = Field(
        default=None, description="`module:function` called with (the generated batches, a "
        "work folder) before the test; returns more `{key}` values for `config` (e.g. a topic "
        "it filled), for sources that cannot read a file")


class Provided(_Model):
    kind: Literal["source", "sink", "transform"]
    name: str = Field(..., description="The registered name a pipeline's `type:` uses")


class BreakingChange(_Model):
    version: str = Field(..., description="The version that broke compatibility")
    change: str = Field(..., min_length=1, description="What changed")
    migration: str = Field(..., min_length=1, description="What a user does to upgrade")

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _semver(value)


class Manifest(_Model):
    """A marketplace component's ``dteg-component.yaml``."""

    name: str = Field(..., description="Lower-case words joined by `-`, e.g. `kafka-extractor`")
    version: str = Field(..., description="Semantic version, e.g. `1.0.0`")
    author: str = Field(..., min_length=1)
    publisher: str | None = Field(default=None,
                                  description="Registry publisher (default: the token's)")
    description: str = Field(..., min_length=1)
    kind: ComponentKind
    category: str = Field(..., min_length=1, description="e.g. database, streaming, api, files")
    pricing: Pricing = Field(default_factory=Pricing)
    package: str = Field(..., description="The Python distribution (wheel) name")
    provides: list[Provided] = Field(..., min_length=1)
    compatibility: Compatibility
    documentation: Documentation = Field(default_factory=Documentation)
    quality_gates: QualityGates = Field(default_factory=QualityGates)
    performance: Performance
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Hosts (`host` or `host:port`, `*.` wildcards) it "
        "may connect to; empty: none")
    breaking_changes: list[BreakingChange] = Field(default_factory=list)
    tests: str = Field(default="tests", description="Folder of its own tests (pytest)")

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _semver(value)

    @field_validator("pricing", mode="before")
    @classmethod
    def _pricing_word(cls, value: Any) -> Any:
        return {"tier": value} if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"`{value}` is not a component name: use lower-case letters, "
                             "digits and `-` (e.g. `kafka-extractor`)")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if "/" in host or not re.match(r"^(\*\.)?[A-Za-z0-9.-]+(:\d+)?$", host):
                raise ValueError(f"`{host}` is not a host (`name`, `name:port` or `*.domain`)")
        return hosts

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        allowed = PROVIDED_KINDS[self.kind]
        for item in self.provides:
            if item.kind not in allowed:
                raise ValueError(f"a {self.kind} provides {' or '.join(allowed)} components, "
                                 f"not a {item.kind} (`{item.name}`)")
        mine = Version(self.version)
        for change in self.breaking_changes:
            if Version(change.version) > mine:
                raise ValueError(f"breaking change of {change.version} is newer than this "
                                 f"version {self.version}")
        return self

    @property
    def semver(self) -> Version:
        return Version(self.version)

    def breaking_between(self, installed: str, new: str) -> list[BreakingChange]:
        """Breaking changes after ``installed`` up to and including ``new``."""
        low, high = Version(installed), Version(new)
        return [c for c in self.breaking_changes if low < Version(c.version) <= high]

    def host_allowed(self, host: str, port: int | None = None) -> bool:
        """Whether the manifest lets the component connect to ``host`` (``port``)."""
        for allowed in self.allowed_hosts:
            name, _, want_port = allowed.partition(":")
            if want_port and port is not None and int(want_port) != port:
                continue
            if name == host or (name.startswith("*.") and host.endswith(name[1:])):
                return True
        return False


def parse_manifest(data: Any, *, file: str = MANIFEST_FILE,
                   source_map: Any = None) -> Manifest:
    """Validate manifest data; errors name the key and, with a source map, its line."""
    if not isinstance(data, dict):
        raise SpecError(f"{file} must be a mapping of manifest keys (`name:`, `version:` …)",
                        location=Location(file, 1),
                        hint="`dteg create connector NAME` writes a complete example.")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        if source_map is None:
            from dteg.spec.loader import SourceMap

            source_map = SourceMap(file)
        errors = located_errors(exc, model=Manifest, source_map=source_map, data=data)
        first = errors[0]
        if len(errors) > 1:
            rest = "; ".join(e.message for e in errors[1:4])
            first.message = f"{first.message} (also: {rest})"
            first.args = (first.render(),)
        raise first from None


def load_manifest(folder_or_file: str | Path) -> Manifest:
    """Read and validate the manifest of a component folder (or the file itself)."""
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / MANIFEST_FILE
    if not path.is_file():
        raise SpecError(f"no {MANIFEST_FILE} at {path}",
                        hint="Run this in a component folder, or create one with "
                        "`dteg create connector NAME`.")
    doc = load_yaml_file(path)
    return parse_manifest(doc.data, file=str(path), source_map=doc.source_map)


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``dteg-component.yaml`` (``dteg schema --component``)."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dteg component manifest (dteg-component.yaml)"
    return schema
