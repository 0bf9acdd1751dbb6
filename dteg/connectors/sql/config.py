"""Config shared by the SQL database connectors (postgres, mysql). Pydantic only, no drivers.

A connection is either a URL (``postgresql://user:pw@host:5432/db``, SQLAlchemy spellings such
as ``postgresql+psycopg://`` and ``mysql+pymysql://`` are accepted) or discrete fields; the
password is a ``SecretStr`` either way, so plans, errors and logs never show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from dteg.components.settings import SinkSettings, SourceSettings
from dteg.connectors.load_strategy import MergeOptions

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$"
SchemaEvolution = Literal["evolve", "freeze", "discard_columns"]


@dataclass(frozen=True)
class Endpoint:
    """Where to connect, resolved from a URL or discrete fields."""

    host: str
    port: int
    user: str
    password: str
    database: str
    options: str = ""  # the URL's query string (sslmode=…, connect_timeout=…)

    def describe(self) -> str:
        """host:port/database, for messages (never the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


class ConnectionConfig(BaseModel):
    """Where the database is. Give `url:` or the discrete fields."""

    model_config = ConfigDict(extra="forbid")
    schemes: ClassVar[tuple[str, ...]] = ()
    default_port: ClassVar[int] = 0

    url: SecretStr | None = Field(
        default=None, description="e.g. postgresql://user:password@host:5432/database; use "
        "${env:…} or ${file:…} for anything secret")
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    connect_timeout: int = Field(default=10, ge=1, description="Seconds to wait for the server")

    @model_validator(mode="after")
    def _url_or_fields(self) -> ConnectionConfig:
        if self.url is None and not self.host:
            raise ValueError("give `url:` or `host:` (with `user:`, `password:`, `database:`)")
        if self.url is not None:
            scheme = urlsplit(self.url.get_secret_value()).scheme.split("+")[0]
            if scheme not in self.schemes:
                raise ValueError(f"`url:` must start with one of {', '.join(self.schemes)}:// "
                                 f"(found `{scheme}://`)")
        return self

    def endpoint(self) -> Endpoint:
        """The URL and the discrete fields merged; fields win over the URL's parts."""
        host, port, user, password, database, options = "", None, "", "", "", ""
        if self.url is not None:
            parts = urlsplit(self.url.get_secret_value())
            host = parts.hostname or ""
            port = parts.port
            user = unquote(parts.username or "")
            password = unquote(parts.password or "")
            database = unquote(parts.path.lstrip("/"))
            options = parts.query
        return Endpoint(
            host=self.host or host or "127.0.0.1",
            port=self.port or port or self.default_port,
            user=self.user or user,
            password=self.password.get_secret_value() if self.password else password,
            database=self.database or database,
            options=options,
        )


def url_of(scheme: str, endpoint: Endpoint, extra: str = "") -> str:
    """A libpq/SQLAlchemy-style URL with user and password percent-encoded."""
    auth = quote(endpoint.user, safe="")
    if endpoint.password:
        auth += ":" + quote(endpoint.password, safe="")
    query = "&".join(q for q in (endpoint.options, extra) if q)
    return (f"{scheme}://{auth}@{endpoint.host}:{endpoint.port}/"
            f"{quote(endpoint.database, safe='')}" + (f"?{query}" if query else ""))


class Incremental(BaseModel):
    """Read only what changed since the last successful run."""

    model_config = ConfigDict(extra="forbid")

    cursor: str = Field(description="A column that grows when a row is inserted or updated: "
                        "updated_at, or an increasing id")
    initial: str | int | None = Field(
        default=None, description="Start value for the first run (default: read everything)")


class SqlSourceConfig(ConnectionConfig, SourceSettings):
    table: str | None = Field(default=None, pattern=IDENTIFIER,
                              description="table or schema.table")
    query: str | None = Field(default=None, description="A SELECT instead of a table")
    columns: list[str] | None = Field(default=None, description="Read only these columns")
    incremental: Incremental | None = None
    partitions: int = Field(default=1, ge=1, le=256,
                            description="Read in N key ranges (one query each)")
    partition_column: str | None = Field(
        default=None, description="Numeric or time column to split on; default: the "
        "incremental cursor, else the table's single-column primary key")
    max_rows_per_second: int | None = Field(
        default=None, ge=1, description="Throttle for the whole source (split evenly over "
        "the partitions), to protect a production database")
    batch_rows: int = Field(default=100_000, ge=1, description="Rows per Arrow batch (about)")

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSourceConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table:` or `query:`")
        return self

    def cursor_column(self) -> str | None:
        return self.incremental.cursor if self.incremental else None


class SqlSinkConfig(ConnectionConfig, SinkSettings, MergeOptions):
    table: str = Field(pattern=IDENTIFIER, description="table or schema.table")
    mode: Literal["append", "replace", "merge"] = Field(
        default="append", description="append: add rows; replace: swap the table's contents; "
        "merge: update rows whose `key:` exists, insert the others")
    key: list[str] | str | None = Field(default=None, description="merge: the key column(s)")
    schema_evolution: SchemaEvolution = Field(
        default="evolve", description="evolve: add new columns and widen types; freeze: fail "
        "on any new or changed column; discard_columns: load only the table's columns")

    @model_validator(mode="after")
    def _merge_needs_key(self) -> SqlSinkConfig:
        if self.mode == "merge" and not self.key:
            raise ValueError("`mode: merge` needs `key:` (the column(s) that identify a row)")
        self.check_merge_options(self.mode)
        return self

    def write_mode(self) -> str:
        return self.mode

    def keys(self) -> list[str]:
        if self.key is None:
            return []
        return [self.key] if isinstance(self.key, str) else list(self.key)
