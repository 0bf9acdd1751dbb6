"""Settings of the `encrypt` and `decrypt` stages (no pyarrow: `dteg validate` imports
them)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

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

    key_per: str | None = Field(
        default=None, description="Crypto-shredding: encrypt each row with a data key of its "
        "own subject, the value of this column (e.g. email). The keys live in `keystore`, "
        "wrapped under this step's key; `dteg privacy erase --subject <column>=…` destroys "
        "the subject's key, after which its values decrypt to null everywhere (files, Kafka "
        "topics included). The column must be one of `columns`")
    keystore: str | None = Field(
        default=None, description="The per-subject keystore (SQLite file) for `key_per`; "
        "relative to the pipeline's folder; default .dteg/subject_keys.sqlite")

    _columns = field_validator("columns")(_columns_not_empty)

    @model_validator(mode="after")
    def _subject_encrypted(self) -> EncryptConfig:
        if self.key_per is not None and self.key_per not in self.columns:
            raise ValueError(
                f"`key_per: {self.key_per}` must also be encrypted: add it to `columns` "
                "(otherwise the subject's value stays readable after their key is destroyed)")
        return self

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
    keystore: str | None = Field(
        default=None, description="The per-subject keystore that values sealed with "
        "`key_per` name (`dteg:v1:s.…`); default .dteg/subject_keys.sqlite. A value whose "
        "subject was erased (key destroyed) comes back null, not as an error")

    _columns = field_validator("columns")(_columns_not_empty)

