"""``security.data_masking`` (and a mask step's ``columns``): which columns are masked, and how.

A plain list masks each column with ``hash``; a mapping names a strategy per column, either as
a word (``email: partial``) or with its options (``phone: {strategy: partial, keep: 2}``):

* ``hash``      HMAC-SHA256 with the masking key (plain SHA-256 without one, which anyone can
  reverse for guessable values: refused under ``access_level: restricted``);
* ``redact``    the text ``replacement`` (default ``***``) instead of the value;
* ``partial``   stars, except the last ``keep`` non-space characters (default 4; spaces
  between them are kept: ``+33 6 12 34 56 78`` → ``************56 78``);
* ``email``     ``***@`` and the domain;
* ``null``      no value;
* ``tokenize``  a deterministic, reversible token (AES-SIV with the masking key).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Strategy = Literal["hash", "redact", "partial", "email", "null", "tokenize"]
REDACTED = "***"
MASKING_KEY_ENV = "DTEG_MASKING_KEY"
# The line every suggestion of `hash` comes with: without a key, hash is plain SHA-256.
MASKING_KEY_REF = "${env:" + MASKING_KEY_ENV + "}"
MASKING_KEY_LINE = "masking_key: " + MASKING_KEY_REF
# Inside a `{…}` flow mapping the braces of `${…}` end a plain value: quoted, it stays YAML.
MASKING_KEY_FLOW = f'masking_key: "{MASKING_KEY_REF}"'
# Options and the one strategy each belongs to (an option on another strategy does nothing).
_OPTION_OF = {"keep": "partial", "replacement": "redact"}


class ColumnMask(BaseModel):
    """A column's strategy with its options."""

    model_config = ConfigDict(extra="forbid")

    strategy: Strategy = "hash"
    keep: int = Field(default=4, ge=0, description="partial: non-space characters kept at the end")
    replacement: str = Field(default=REDACTED, description="redact: the text put instead")

    @model_validator(mode="after")
    def _options_fit(self) -> ColumnMask:
        for option, strategy in _OPTION_OF.items():
            if option in self.model_fields_set and self.strategy != strategy:
                raise ValueError(f"`{option}` applies only to `strategy: {strategy}`, not to "
                                 f"`{self.strategy}`; remove it or change the strategy")
        return self


def _form(value: Any) -> str:
    return "options" if isinstance(value, (dict, ColumnMask)) else "name"


# One branch per form, so a mistake in `{strategy: …}` is reported once, at its own key.
ColumnStrategy = Annotated[
    Annotated[Strategy, Tag("name")] | Annotated[ColumnMask, Tag("options")],
    Discriminator(_form),
]
MaskColumns = list[str] | dict[str, ColumnStrategy]


def column_mask(value: Strategy | ColumnMask) -> ColumnMask:
    """A column's strategy as a ``ColumnMask`` (a plain strategy name has the defaults)."""
    return value if isinstance(value, ColumnMask) else ColumnMask(strategy=value)
