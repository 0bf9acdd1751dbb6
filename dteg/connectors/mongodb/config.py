"""Config of the MongoDB source and sink. Pydantic only, no driver.

The connection is a MongoDB URI (``mongodb://user:password@host:27017/database``); it is a
``SecretStr``, so plans, errors and logs never show the password. The database is the URI's
path unless ``database:`` names another.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from dteg.components.settings import Dataset, SinkSettings, SourceSettings
from dteg.components.types import DeclaredType

# MongoDB's own limits on names: no `$`, no NUL, not empty; collections not `system.`.
_NAME = re.compile(r"^[^$\x00/\\. \"]+$")
_COLLECTION = re.compile(r"^(?!system\.)[^$\x00]+$")


class Endpoint(BaseModel):
    """Where to connect, for messages (never the password)."""

    hosts: str
    user: str
    database: str

    def describe(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.hosts}/{self.database}"


class MongoConnection(BaseModel):
    """Where the server is. Both the source's and the sink's settings build on it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    url: SecretStr = Field(description="mongodb://user:password@host:27017/database (or "
                           "mongodb+srv://…); use ${env:…} or ${file:…} for anything secret")
    database: str | None = Field(default=None, description="The database (default: the URL's "
                                 "path)")
    collection: str = Field(description="The collection to read or write")
    connect_timeout: int = Field(default=10, ge=1, description="Seconds to wait for the server")

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: SecretStr) -> SecretStr:
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in ("mongodb", "mongodb+srv"):
            raise ValueError(f"`url:` must start with mongodb:// or mongodb+srv:// (found "
                             f"`{scheme or 'no scheme'}://`)")
        return value

    @field_validator("collection")
    @classmethod
    def _collection(cls, value: str) -> str:
        if not _COLLECTION.match(value):
            raise ValueError(f"`{value}` is not a collection name MongoDB accepts (no `$`, "
                             "not `system.*`)")
        return value

    @model_validator(mode="after")
    def _has_database(self) -> MongoConnection:
        name = self.database_name()
        if not name:
            raise ValueError("name the database: `database:` or the URL's path "
                             "(mongodb://host:27017/<database>)")
        if not _NAME.match(name):
            raise ValueError(f"`{name}` is not a database name MongoDB accepts")
        return self

    def database_name(self) -> str:
        if self.database:
            return self.database
        path = urlsplit(self.url.get_secret_value()).path
        return unquote(path.lstrip("/").split("/")[0])

    def endpoint(self) -> Endpoint:
        parts = urlsplit(self.url.get_secret_value())
        # netloc without user:password; several hosts (a replica set) stay as written.
        hosts = parts.netloc.rpartition("@")[2]
        return Endpoint(hosts=hosts, user=unquote(parts.username or ""),
                        database=self.database_name())

    def lineage_dataset(self, base_dir: Any, step: str) -> Dataset | None:
        return (f"mongodb://{self.endpoint().hosts}", f"{self.database_name()}.{self.collection}")


class Incremental(BaseModel):
    """Read only what changed since the last successful run."""

    model_config = ConfigDict(extra="forbid")

    cursor: str = Field(description="A field that grows when a document is inserted or "
                        "updated: updated_at, or an increasing number (dots reach into "
                        "sub-documents)")
    initial: str | int | float | None = Field(
        default=None, description="Start value for the first run (default: read everything)")


class SourceConfig(MongoConnection, SourceSettings):
    """Read a collection (``find`` with a filter and projection) or an aggregation pipeline."""

    filter: dict[str, Any] | None = Field(
        default=None, description="A MongoDB query document, e.g. {status: paid}")
    projection: dict[str, Any] | None = Field(
        default=None, description="Fields to return, e.g. {name: 1, address: 1}")
    pipeline: list[dict[str, Any]] | None = Field(
        default=None, description="An aggregation pipeline instead of find (the incremental "
        "bounds and `filter:` go in a $match before it)")
    incremental: Incremental | None = None
    schema_: dict[str, DeclaredType] | None = Field(
        default=None, alias="schema", description="Columns and their types (json: the value "
        "as JSON text). A dotted name (address.city) reads that field of a sub-document into "
        "its own column. Default: sampled from the first `sample_size` documents")
    sample_size: int = Field(default=1000, ge=1,
                             description="Documents read to infer the schema when none is "
                             "declared")
    partitions: int = Field(default=1, ge=1, le=256, description="Read in N ranges of "
                            "`partition_field` (one query each; not with `pipeline:`)")
    partition_field: str = Field(default="_id", description="Field to split on: ObjectIds, "
                                 "numbers or dates")
    batch_rows: int = Field(default=10_000, ge=1, description="Documents per Arrow batch")

    model_config = ConfigDict(extra="forbid", defer_build=True, populate_by_name=True)

    @model_validator(mode="after")
    def _partitions_need_find(self) -> SourceConfig:
        if self.partitions > 1 and self.pipeline is not None:
            raise ValueError("`partitions:` splits a find by ranges of `partition_field`; an "
                             "aggregation `pipeline:` is read in one piece")
        return self

    def cursor_column(self) -> str | None:
        return self.incremental.cursor if self.incremental else None


class SinkConfig(MongoConnection, SinkSettings):
    """Write documents: insert, upsert by key (merge) or replace the collection."""

    mode: Literal["append", "replace", "merge"] = Field(
        default="append", description="append: insert documents; replace: swap the "
        "collection's contents; merge: upsert on `key:` (replace the matching document, insert "
        "the others)")
    key: list[str] | str | None = Field(default=None, description="merge: the key field(s)")
    json_columns: list[str] = Field(
        default_factory=list, description="Text columns holding JSON to store as "
        "sub-documents and arrays (what the source writes for nested values)")
    batch_size: int = Field(default=1000, ge=1, le=100_000,
                            description="Documents per bulk write")

    @model_validator(mode="after")
    def _merge_needs_key(self) -> SinkConfig:
        if self.mode == "merge" and not self.key:
            raise ValueError("`mode: merge` needs `key:` (the field(s) that identify a "
                             "document)")
        return self

    def write_mode(self) -> str:
        return self.mode

    def keys(self) -> list[str]:
        if self.key is None:
            return []
        return [self.key] if isinstance(self.key, str) else list(self.key)
