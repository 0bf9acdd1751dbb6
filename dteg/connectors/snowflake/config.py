"""Config of the Snowflake sink."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, SecretStr, model_validator

from dteg.connectors.load_strategy import LoadStrategy
from dteg.connectors.retry import RetrySettings

IDENT = r"^[A-Za-z_][A-Za-z0-9_$]*$"


class SinkConfig(LoadStrategy):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    account: str = Field(description="Account identifier, e.g. myorg-myaccount")
    user: str
    password: SecretStr | None = Field(default=None, description="Use ${env:…} or ${file:…}")
    private_key_file: str | None = Field(
        default=None, description="Key-pair authentication: path to a PEM private key")
    private_key_file_pwd: SecretStr | None = None
    authenticator: str | None = Field(default=None, description="e.g. externalbrowser, oauth")
    token: SecretStr | None = Field(default=None, description="authenticator: oauth")
    role: str | None = None
    warehouse: str | None = None
    database: str = Field(pattern=IDENT)
    db_schema: str = Field(default="PUBLIC", alias="schema", pattern=IDENT)
    table: str = Field(pattern=IDENT)
    mode: Literal["append", "replace", "merge"] = Field(
        default="append", description="replace: delete the table's rows and load the new ones "
        "in one transaction (the table, its grants and extra columns stay)")
    key: list[str] | str | None = Field(default=None, description="merge: the key column(s)")
    schema_evolution: Literal["evolve", "freeze", "discard_columns"] = "evolve"
    identifier_case: Literal["upper", "preserve"] = Field(
        default="upper", description="upper: table and column names are upper-cased (as "
        "Snowflake does with unquoted names); preserve: kept as written, quoted")
    stage: str = Field(default="DTEG_STAGE", pattern=IDENT,
                       description="Internal stage (created if missing) that files are PUT to")
    host: str | None = Field(default=None, description="Override the account's host (proxies, "
                             "test stand-ins)")
    port: int | None = None
    protocol: Literal["https", "http"] | None = None
    connect_args: dict[str, Any] = Field(
        default_factory=dict, description="More keyword arguments for "
        "snowflake.connector.connect")
    retry: RetrySettings = Field(default_factory=RetrySettings)

    @model_validator(mode="after")
    def _check(self) -> SinkConfig:
        if self.mode == "merge" and not self.key:
            raise ValueError("`mode: merge` needs `key:` (the column(s) that identify a row)")
        if self.strategy == "stream" and self.mode == "replace":
            raise ValueError("`strategy: stream` commits micro-batches, so it needs "
                             "`mode: append` or `merge`, not `replace`")
        return self

    def write_mode(self) -> str:
        return self.mode

    def keys(self) -> list[str]:
        if self.key is None:
            return []
        return [self.key] if isinstance(self.key, str) else list(self.key)

    def name(self, identifier: str) -> str:
        return identifier.upper() if self.identifier_case == "upper" else identifier
