"""Settings of the `mask` stage (no pyarrow: `dteg validate` imports it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from dteg.components.settings import StageSettings
from dteg.security.keys import DEFAULT_KEY_ID, KEY_ID_PATTERN, LocalKey, parse_key_text
from dteg.spec.masking import ColumnMask, MaskColumns, Strategy


class MaskConfig(StageSettings):
    model_config = ConfigDict(extra="forbid")

    columns: MaskColumns = Field(
        description="Columns to mask with `strategy`, or column → strategy")
    strategy: Strategy = Field(default="hash", description="Used for a plain list of columns")
    key: SecretStr | None = Field(
        default=None, description="HMAC key for `hash`, AES-SIV key for `tokenize` (use "
        "${env:…}); without one, hashes of guessable values (emails, phones) can be reversed "
        "by trying candidates")
    key_id: str = Field(default=DEFAULT_KEY_ID, pattern=KEY_ID_PATTERN,
                        description="tokenize: the key id written into each token")
    missing: Literal["error", "ignore"] = Field(
        default="error", description="What to do when a masked column is not in the data")

    @field_validator("columns")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if not value:
            raise ValueError("name at least one column to mask")
        return value

    @model_validator(mode="after")
    def _tokenize_needs_key(self) -> MaskConfig:
        if self.key is None and any(m.strategy == "tokenize" for m in self.plan().values()):
            raise ValueError("`tokenize` needs a key (`security.masking_key` or the mask "
                             "step's `key:`), since tokens are decrypted with it")
        return self

    def token_key(self) -> LocalKey | None:
        """The AES-SIV key for ``tokenize`` (derived from ``key``), if a column uses it."""
        if self.key is None or all(m.strategy != "tokenize" for m in self.plan().values()):
            return None
        material = parse_key_text(self.key.get_secret_value(), where="the masking key")
        return LocalKey.from_material(self.key_id, material)

    def masked_columns(self) -> set[str]:
        return set(self.plan())

    def unkeyed_hashes(self) -> list[str]:
        if self.key is not None:
            return []
        return [c for c, m in self.plan().items() if m.strategy == "hash"]

    def plan(self) -> dict[str, ColumnMask]:
        if isinstance(self.columns, list):
            return {c: ColumnMask(strategy=self.strategy) for c in self.columns}
        return {c: m if isinstance(m, ColumnMask) else ColumnMask(strategy=m)
                for c, m in self.columns.items()}
