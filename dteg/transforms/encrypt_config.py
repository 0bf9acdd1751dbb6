"""Settings of the `encrypt` and `decrypt` stages (no pyarrow: `dteg validate` imports
them)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from dteg.components.settings import StageSettings
from dteg.components.types import DeclaredType
from dteg.security.keys import (
    DEFAULT_KEY_ENV,
    DEFAULT_KEY_ID,
    KEY_ID_PATTERN,
    KeyConfig,
    keyring_configs,
)


class KeyedConfig(StageSettings):
    """The key fields shared by ``encrypt``, ``decrypt`` and ``mask`` (tokenize)."""

    model_config = ConfigDict(extra="forbid")

    key: SecretStr | None = Field(
        default=None, description="Key text (use ${env:…} or ${file:…}); without `key` or "
        "`keys`, the DTEG_ENCRYPTION_KEY environment variable is read at run time")
    key_id: str = Field(default=DEFAULT_KEY_ID, pattern=KEY_ID_PATTERN,
                        description="The id written into each value encrypted with `key`")
    keys: list[KeyConfig] | None = Field(
        default=None, description="A keyring instead of `key`: the first key encrypts, every "
        "key decrypts (rotation); each from key, env, file, vault (KV v2) or transit")

    def keyring_configs(self) -> list[KeyConfig]:
        return keyring_configs(self.key, self.key_id, self.keys)

    def required_env(self) -> list[str]:
        return [] if self.key is not None or self.keys else [DEFAULT_KEY_ENV]


def _columns_not_empty(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("name at least one column")
    return value


class EncryptConfig(KeyedConfig):
    columns: list[str] = Field(description="Columns to encrypt")
    missing: Literal["error", "ignore"] = Field(
        default="error", description="What to do when a column is not in the data")

    _columns = field_validator("columns")(_columns_not_empty)

    def masked_columns(self) -> set[str]:
        return set(self.columns)


class DecryptConfig(KeyedConfig):
    columns: list[str] = Field(description="Columns to decrypt (dteg:v1: values or tokens)")
    types: dict[str, DeclaredType] = Field(
        default_factory=dict, description="column → type to cast the decrypted text to "
        "(e.g. int, decimal(12,2), date); others stay text")
    on_error: Literal["fail", "quarantine"] = Field(
        default="fail", description="A value that cannot be decrypted fails the run, or goes "
        "to the dead-letter output")
    missing: Literal["error", "ignore"] = "error"

    _columns = field_validator("columns")(_columns_not_empty)

