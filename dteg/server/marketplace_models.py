"""API models of ``/api/v1/marketplace`` (what the marketplace pages read). The registry's
documents pass through with the fields named here; fields an older registry lacks are null or
empty, and fields a newer one adds are kept (``extra="allow"``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Rating(_Open):
    average: float | None = None
    count: int = 0


class Pricing(_Open):
    tier: str = Field(default="free", description="free | premium | enterprise")
    price: float | str | None = None
    unit: str | None = Field(default=None, description="e.g. month, million_rows")
    currency: str | None = None


class ComponentHit(_Open):
    name: str
    latest_version: str | None = None
    kind: str | None = None
    category: str | None = None
    description: str = ""
    author: str = ""
    publisher: str | None = None
    rating: Rating = Field(default_factory=Rating)
    badges: list[str] = []
    tier: str = Field(default="community", description="official | verified | community")
    pricing: Pricing = Field(default_factory=Pricing)
    downloads: int = 0
    downloads_month: int | None = None
    success_rate: float | None = None
    active_installs_month: int | None = None
    gates: dict[str, str] = {}
    updated_at: str | None = None


class Facets(BaseModel):
    kinds: list[str]
    categories: list[str]
    tiers: list[str]
    badges: list[str]
    pricing: list[str]


class SearchResult(BaseModel):
    registry: str = Field(description="The registry this server reads")
    results: list[ComponentHit]
    total: int = Field(description="Results before the limit")
    facets: Facets = Field(description="What the filters can choose from (every component)")


class Compatibility(BaseModel):
    dteg: str
    python: str
    fits: bool
    version: str | None = Field(default=None, description="The newest version that fits")
    reasons: dict[str, str] = Field(default_factory=dict,
                                    description="version → why it does not fit")


class ComponentPage(ComponentHit):
    versions: list[dict[str, Any]] = Field(description="Every version, oldest first, with "
                                           "its manifest and gate report")
    install: str = Field(description="The command that installs the latest version")
    compatibility: Compatibility
    downloads_detail: dict[str, Any] | None = None
    registry: str


class DocSection(BaseModel):
    name: str = Field(description="overview, configuration, examples, troubleshooting, or "
                      "readme")
    markdown: str


class Documentation(BaseModel):
    component: str
    version: str
    source: str = Field(description="docs (the manifest's sections) | readme | none")
    sections: list[DocSection]
    note: str | None = None


class Listing(_Open):
    items: list[dict[str, Any]]
    total: int | None = None
    supported: bool = Field(default=True, description="False: the registry has no such "
                            "route (an older registry)")


class Publisher(_Open):
    name: str
    verified: bool | None = None
    official: bool | None = None
    components: list[ComponentHit]
    keys: list[dict[str, Any]] = []


class Organisation(BaseModel):
    organisation: str | None = Field(description="The registry organisation of this server "
                                     "(DTEG_MARKETPLACE_ORG)")
    configured: bool = Field(description="Organisation and its token are both set")
    registry: str
