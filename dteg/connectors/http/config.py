"""Config of the REST API (``http``) source. Pydantic only: no HTTP client is imported here.

Secrets (tokens, passwords, API keys, client secrets) are ``SecretStr``: plans, errors and
logs show ``**********``; give them as ``${env:…}`` or ``${file:…}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from dteg.components.settings import SourceSettings
from dteg.components.types import DeclaredType
from dteg.connectors.retry import RetrySettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BearerAuth(_Strict):
    """``Authorization: Bearer <token>``."""

    type: Literal["bearer"]
    token: SecretStr


class BasicAuth(_Strict):
    """HTTP basic authentication."""

    type: Literal["basic"]
    username: str
    password: SecretStr


class ApiKeyAuth(_Strict):
    """An API key in a header or a query parameter."""

    type: Literal["api_key"]
    name: str = Field(default="X-API-Key", description="Header or query parameter name")
    value: SecretStr
    in_: Literal["header", "query"] = Field(default="header", alias="in")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OAuth2ClientCredentials(_Strict):
    """OAuth2 client credentials: a token from ``token_url``, refreshed before it expires
    and once more when the API answers 401."""

    type: Literal["oauth2"]
    token_url: str
    client_id: str
    client_secret: SecretStr
    scope: str | None = None
    refresh_margin_seconds: float = Field(
        default=30.0, ge=0, description="Fetch a new token this long before the old expires")


Auth = Annotated[BearerAuth | BasicAuth | ApiKeyAuth | OAuth2ClientCredentials,
                 Field(discriminator="type")]

PageStyle = Literal["none", "page", "offset", "cursor", "link", "next_url"]


class Pagination(_Strict):
    """How to get the next page. ``page``: page=1,2,3…; ``offset``: offset=0,100,200… with
    limit=100; ``cursor``: a value from the body sent back as a parameter; ``link``: the
    ``Link: <…>; rel="next"`` header; ``next_url``: a URL in the body."""

    style: PageStyle = "none"
    page_param: str = "page"
    start_page: int = Field(default=1, ge=0)
    size_param: str | None = Field(
        default=None, description="page: the page-size parameter (per_page, page_size)")
    size: int = Field(default=100, ge=1, description="page size (page, offset styles)")
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_path: str | None = Field(default=None, description="cursor: where the next "
                                    "cursor is in the body, e.g. meta.next_cursor")
    cursor_param: str = "cursor"
    next_url_path: str | None = Field(default=None, description="next_url: where the next "
                                      "page's URL is in the body, e.g. links.next")
    location: Literal["query", "body"] = Field(
        default="query", description="Where page parameters go (body: POST JSON body)")
    max_pages: int | None = Field(default=None, ge=1, description="Stop after this many")

    @model_validator(mode="after")
    def _paths(self) -> Pagination:
        if self.style == "cursor" and not self.cursor_path:
            raise ValueError("`pagination.style: cursor` needs `cursor_path:` (where the next "
                             "cursor is in the response body, e.g. meta.next_cursor)")
        if self.style == "next_url" and not self.next_url_path:
            raise ValueError("`pagination.style: next_url` needs `next_url_path:` (where the "
                             "next page's URL is in the response body, e.g. links.next)")
        return self


class Incremental(_Strict):
    """Read only what changed since the last successful run."""

    cursor: str = Field(description="A field of each record that grows on insert/update "
                        "(updated_at, or an increasing id); dotted for nested fields")
    cursor_type: Literal["timestamp", "int", "string"] = "timestamp"
    param: str | None = Field(
        default=None, description="Query parameter that asks the API for records after the "
        "saved cursor (e.g. updated_since); without it every page is read and filtered")
    initial: str | int | None = Field(default=None, description="Start of the first run")
    watermark: Literal["now", "scan"] | None = Field(
        default=None, description="How the run's upper bound is fixed before it starts: now "
        "(the clock; timestamps only) or scan (read the pages once for the largest cursor). "
        "Default: now for timestamps, scan otherwise")

    @model_validator(mode="after")
    def _watermark(self) -> Incremental:
        if self.watermark == "now" and self.cursor_type != "timestamp":
            raise ValueError("`incremental.watermark: now` works for `cursor_type: "
                             "timestamp` only; use `watermark: scan`")
        return self

    def watermark_kind(self) -> str:
        return self.watermark or ("now" if self.cursor_type == "timestamp" else "scan")


class SourceConfig(SourceSettings):
    """A REST API read page by page into Arrow batches."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    url: str = Field(description="The first page, e.g. https://api.example.com/v1/orders")
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Any] = Field(
        default_factory=dict, description="Query parameters; `{since}`/`{until}` in a value "
        "become the incremental bounds")
    body: dict[str, Any] | None = Field(default=None, description="POST: the JSON body "
                                        "(templated like params)")
    headers: dict[str, str] = Field(default_factory=dict)
    records: str = Field(default="$", description="Where the records are in each response, "
                         "JSONPath-like: $.data.items, results, $ (the body is the list)")
    auth: Auth | None = None
    pagination: Pagination = Field(default_factory=Pagination)
    incremental: Incremental | None = None
    schema_: dict[str, DeclaredType] | None = Field(
        default=None, alias="schema", description="Declared columns (column: type). A dotted "
        "name (address.city) flattens a nested field into a column (address_city); other "
        "fields are dropped. Without it the columns are inferred from the first page and "
        "nested values are kept as JSON text")
    max_requests_per_second: float | None = Field(default=None, gt=0,
                                                  description="A ceiling for this source")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Per request")
    max_retry_after_seconds: float = Field(
        default=120.0, ge=0, description="Longest `Retry-After` of a 429/503 that is honoured")
    retry: RetrySettings = Field(default_factory=RetrySettings)
    verify_tls: bool = True

    def cursor_column(self) -> str | None:
        return column_name(self.incremental.cursor) if self.incremental else None

    def secrets(self) -> list[str]:
        """Every secret value, so messages can be scrubbed of them."""
        auth = self.auth
        values: list[SecretStr] = []
        if isinstance(auth, BearerAuth):
            values.append(auth.token)
        elif isinstance(auth, BasicAuth):
            values.append(auth.password)
        elif isinstance(auth, ApiKeyAuth):
            values.append(auth.value)
        elif isinstance(auth, OAuth2ClientCredentials):
            values.append(auth.client_secret)
        return [v.get_secret_value() for v in values if v.get_secret_value()]


def column_name(path: str) -> str:
    """The column a (dotted) field path lands in: ``address.city`` → ``address_city``."""
    return path.replace(".", "_")
