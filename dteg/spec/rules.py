"""``quality.validation_rules`` (and a validate step's ``rules``): one model per rule type.

Every rule type is a subclass of ``Rule`` that names the keys it takes (``OPTIONS``); a key of
another rule type (``pattern:`` on a ``range_check``) is refused rather than ignored, and
``dteg schema`` offers each type only its own keys. ``Rule`` itself holds every field, so code
that runs rules reads any of them (``rule.keep``) without asking which type it has, and
``Rule.model_validate`` checks one rule of any type.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from dteg.components.types import DeclaredType, UnknownType, check_type
from dteg.spec.names import known_names_hint

OnFailure = Literal["quarantine", "drop", "fail"]
RuleType = Literal[
    "null_check", "format_check", "range_check", "accepted_values", "length_check",
    "type_check", "expression", "unique",
]
# Rules checked by a Beam-level stage over the whole run rather than batch by batch.
RUN_WIDE = ("unique",)
# Keys every rule takes.
COMMON = ("type", "name", "on_failure", "max_invalid_ratio")
_TARGETS = ("column", "columns")


class Rule(BaseModel):
    """A validation rule of any type (the fields of every type; see the subclasses)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # The keys of this rule type besides COMMON, and those it cannot do without.
    OPTIONS: ClassVar[tuple[str, ...]] = ()
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    type: RuleType
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]+$",
                             description="Label in dead letters, counters and the report")
    column: str | None = Field(default=None, description="The column checked")
    columns: list[str] | None = Field(
        default=None, description="Each column is checked; for `unique`, the combination")
    pattern: str | None = Field(default=None, description="format_check: the whole value must "
                                "match this regular expression")
    min: float | str | None = Field(default=None, description="range_check: the smallest "
                                    "value allowed (a number, or text such as a date)")
    max: float | str | None = Field(default=None, description="range_check: the largest "
                                    "value allowed")
    values: list[Any] | None = Field(default=None, description="accepted_values: the values "
                                     "allowed")
    min_length: int | None = Field(default=None, ge=0, description="length_check: fewest "
                                   "characters")
    max_length: int | None = Field(default=None, ge=0, description="length_check: most "
                                   "characters")
    data_type: str | None = Field(default=None, description="type_check: e.g. int, date, "
                                  "decimal(12,2)")
    schema_: dict[str, DeclaredType] | None = Field(
        default=None, alias="schema", description="type_check: column → type, every one checked")
    expression: str | None = Field(
        default=None, description="expression: SQL predicate over the row's columns, e.g. "
        "\"amount >= 0 OR status = 'refund'\"; false fails, null passes")
    keep: Literal["first", "none"] = Field(
        default="first", description="unique: keep the first row of each duplicated value, or "
        "none of them")
    on_failure: OnFailure | None = Field(
        default=None, description="Overrides the pipeline's `on_failure` for this rule")
    max_invalid_ratio: float | None = Field(
        default=None, ge=0, le=1, description="Fail the run (before anything is loaded) when "
        "more than this share of rows breaks this rule")

    @model_validator(mode="before")
    @classmethod
    def _keys_of_its_type(cls, data: Any) -> Any:
        # Checked here rather than by pydantic's `extra`, which would compare a typo with the
        # keys of every rule type.
        if not isinstance(data, dict) or data.get("type") not in RULE_MODELS:
            return data
        model = RULE_MODELS[data["type"]]
        own = {*COMMON, *model.OPTIONS}
        for key in data:
            if key in own or (key == "schema_" and "schema" in own):
                continue
            close = difflib.get_close_matches(str(key), sorted(own - {"type"}), n=1,
                                              cutoff=0.6)
            also = f" Did you mean `{close[0]}`?" if close else ""
            listing = ", ".join(f"`{k}`" for k in model.OPTIONS)
            common = ", ".join(f"`{k}`" for k in COMMON if k != "type")
            raise ValueError(f"`{key}` is not a key of `{data['type']}` rules.{also} They take "
                             f"{listing} (and {common}).")
        return data

    @model_validator(mode="after")
    def _needs(self) -> Rule:
        if self.type != "expression" and not self.targets():
            raise ValueError(f"rule `{self.type}` needs `column:` or `columns:`")
        needs = {
            "format_check": ("pattern",), "accepted_values": ("values",),
            "expression": ("expression",),
        }.get(self.type, ())
        for key in needs:
            if getattr(self, key) is None:
                raise ValueError(f"rule `{self.type}` needs `{key}:`")
        if self.type == "range_check" and self.min is None and self.max is None:
            raise ValueError("rule `range_check` needs `min:` and/or `max:`")
        if self.type == "length_check" and self.min_length is None and self.max_length is None:
            raise ValueError("rule `length_check` needs `min_length:` and/or `max_length:`")
        if self.type == "type_check":
            if (self.data_type is None) == (self.schema_ is None):
                raise ValueError("rule `type_check` needs `data_type:` (with `column:`) or "
                                 "`schema:` (column → type), one of them")
            for column, name in self.types().items():
                try:
                    check_type(name)
                except UnknownType as exc:
                    raise ValueError(f"column `{column}`: {exc}") from None
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a valid regular expression: {exc}") from None
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        if cls.OPTIONS:  # a rule type: offer only its own keys
            target = handler.resolve_ref_schema(schema)
            own = {*COMMON, *cls.OPTIONS}
            target["properties"] = {k: v for k, v in target.get("properties", {}).items()
                                    if k in own}
            target["required"] = ["type", *cls.REQUIRED]
        return schema

    def targets(self) -> list[str]:
        return [*([self.column] if self.column else []), *(self.columns or []),
                *(self.schema_ or {})]

    def types(self) -> dict[str, str]:
        """type_check: column → type name."""
        if self.schema_ is not None:
            return dict(self.schema_)
        return {c: self.data_type for c in self.targets() if self.data_type}

    def label(self) -> str:
        return self.name or self.type


class NullCheck(Rule):
    """Fails rows where the column is null (an empty text is not null)."""

    OPTIONS = _TARGETS
    type: Literal["null_check"]


class FormatCheck(Rule):
    """Fails rows whose whole value does not match `pattern` (a regular expression)."""

    OPTIONS = (*_TARGETS, "pattern")
    REQUIRED = ("pattern",)
    type: Literal["format_check"]


class RangeCheck(Rule):
    """Fails rows whose value is below `min` or above `max` (both inclusive)."""

    OPTIONS = (*_TARGETS, "min", "max")
    type: Literal["range_check"]


class AcceptedValues(Rule):
    """Fails rows whose value is not one of `values`."""

    OPTIONS = (*_TARGETS, "values")
    REQUIRED = ("values",)
    type: Literal["accepted_values"]


class LengthCheck(Rule):
    """Fails rows whose text has fewer than `min_length` or more than `max_length`
    characters."""

    OPTIONS = (*_TARGETS, "min_length", "max_length")
    type: Literal["length_check"]


class TypeCheck(Rule):
    """Fails rows whose value cannot be read as `data_type` (or each column as its type in
    `schema`)."""

    OPTIONS = (*_TARGETS, "data_type", "schema")
    type: Literal["type_check"]


class UniqueRule(Rule):
    """Fails rows whose value (or combination of `columns`) another row of the run has."""

    OPTIONS = (*_TARGETS, "keep")
    type: Literal["unique"]


class ExpressionRule(Rule):
    """Fails rows for which the SQL predicate `expression` is false."""

    OPTIONS = ("expression",)
    REQUIRED = ("expression",)
    type: Literal["expression"]


_WHAT = "rule types"
RULE_MODELS: dict[str, type[Rule]] = {
    "null_check": NullCheck, "format_check": FormatCheck, "range_check": RangeCheck,
    "accepted_values": AcceptedValues, "length_check": LengthCheck, "type_check": TypeCheck,
    "unique": UniqueRule, "expression": ExpressionRule,
}


def _known_rule_type(value: Any) -> Any:
    if isinstance(value, dict) and value.get("type") not in RULE_MODELS:
        if "type" not in value:
            raise ValueError(f"a rule needs `type:`. {known_names_hint(_WHAT, '', RULE_MODELS)}")
        raise ValueError(f"`type: {value['type']}` is not a rule type. "
                         f"{known_names_hint(_WHAT, value['type'], RULE_MODELS)}")
    return value


ValidationRule = Annotated[
    Annotated[
        NullCheck | FormatCheck | RangeCheck | AcceptedValues | LengthCheck | TypeCheck
        | UniqueRule | ExpressionRule,
        Field(discriminator="type"),
    ],
    BeforeValidator(_known_rule_type),
]
