"""`quality.validation_rules`, `security.data_masking` and `security.keys` are typed in the
pipeline body: one model per rule type, masking strategies with their own options, keyring
entries; mistakes are located and name the policy step, and `dteg schema` completes them."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import SecretStr

from dteg.errors import SpecError, SpecErrors
from dteg.spec.json_schema import pipeline_json_schema
from dteg.spec.keyring import KeyConfig, VaultKV
from dteg.spec.masking import ColumnMask
from dteg.spec.phases import compile_spec
from dteg.spec.rules import RULE_MODELS, FormatCheck, RangeCheck, Rule, UniqueRule
from dteg.spec.sections import as_config, policy_step
from dteg.transforms.validate import ValidateConfig

STEPS = """\
  steps:
    - extract: {type: csv, config: {path: a.csv}}
    - load: {type: duckdb, config: {table: t}}
"""


def _compile(section: str, steps: str = STEPS):
    text = "pipeline:\n  name: p\n" + textwrap.indent(textwrap.dedent(section), "  ") + steps
    return compile_spec("p.yaml", text=text, environ={})


def _error(section: str, steps: str = STEPS) -> SpecError:
    with pytest.raises(SpecError) as info:
        _compile(section, steps)
    assert not isinstance(info.value, SpecErrors), info.value
    return info.value


# --- validation rules ------------------------------------------------------------------------


def test_rules_are_typed_per_type_and_become_the_validate_config() -> None:
    spec = _compile("""\
        quality:
          validation_rules:
            - {type: format_check, column: email, pattern: ".+@.+"}
            - {type: range_check, column: age, min: 0, max: 130, on_failure: drop}
            - {type: unique, columns: [id, day], keep: none}
            - {type: type_check, schema: {id: int, day: date}}
    """)
    fmt, age, unique, types = spec.body.quality.validation_rules
    assert isinstance(fmt, FormatCheck) and isinstance(age, RangeCheck)
    assert isinstance(unique, UniqueRule) and unique.keep == "none"
    assert types.types() == {"id": "int", "day": "date"}
    config = spec.step("validate").config
    assert config["rules"][2] == {"type": "unique", "columns": ["id", "day"], "keep": "none"}
    assert config["rules"][3] == {"type": "type_check", "schema": {"id": "int", "day": "date"}}
    validated = ValidateConfig.model_validate(config)
    assert [type(r) for r in validated.rules] == [FormatCheck, RangeCheck, UniqueRule,
                                                  RULE_MODELS["type_check"]]


@pytest.mark.parametrize(("rule", "line", "text"), [
    ("{type: nul_check, column: id}", 5,
     "unknown rule type `nul_check`. Did you mean `null_check`? Known rule types: null_check, "
     "format_check, range_check, accepted_values, length_check, type_check, unique, "
     "expression."),
    ("{type: range_check, column: age, mn: 0}", 5,
     "`validation_rules` item 1: `mn` is not a key of `range_check` rules. Did you mean "
     "`min`? They take `column`, `columns`, `min`, `max` (and `name`, `on_failure`, "
     "`max_invalid_ratio`)."),
    ("{type: null_check, column: id, pattern: x}", 5,
     "`pattern` is not a key of `null_check` rules. They take `column`, `columns`"),
    ("{type: expression, column: id, expression: 'id > 0'}", 5,
     "`column` is not a key of `expression` rules. They take `expression`"),
    ("{type: accepted_values, column: c}", 5, "rule `accepted_values` needs `values:`"),
    ("{type: range_check, column: a, min: 0, on_failure: skip}", 5,
     "`on_failure` is 'skip', which is not allowed"),
])
def test_rule_mistakes_are_located_and_name_the_validate_step(rule: str, line: int,
                                                               text: str) -> None:
    err = _error(f"quality:\n  validation_rules:\n    - {rule}\n")
    assert err.step == "validate"
    assert err.location is not None and err.location.line == line, err.render()
    assert text in err.render()


def test_rules_of_an_explicit_validate_step_get_the_same_checks() -> None:
    steps = """\
  steps:
    - extract: {type: csv, config: {path: a.csv}}
    - validate:
        rules: [{type: nul_check, column: id}]
    - load: {type: duckdb, config: {table: t}}
"""
    err = _error("", steps)
    assert err.step == "validate"
    assert "`type: nul_check` is not a rule type. Did you mean `null_check`?" in err.render()


def test_rule_model_validate_accepts_every_type() -> None:
    assert Rule.model_validate({"type": "unique", "column": "a"}).keep == "first"
    assert Rule.model_validate({"type": "type_check", "column": "a", "schema": None,
                                "data_type": "int"}).types() == {"a": "int"}


def test_schema_offers_each_rule_type_only_its_keys() -> None:
    defs = pipeline_json_schema()["$defs"]
    items = defs["QualitySpec"]["properties"]["validation_rules"]["items"]
    assert set(items["discriminator"]["mapping"]) == set(RULE_MODELS)
    common = {"type", "name", "on_failure", "max_invalid_ratio"}
    assert set(defs["RangeCheck"]["properties"]) == common | {"column", "columns", "min", "max"}
    assert set(defs["ExpressionRule"]["properties"]) == common | {"expression"}
    assert set(defs["TypeCheck"]["properties"]) == common | {"column", "columns", "data_type",
                                                             "schema"}
    assert defs["FormatCheck"]["required"] == ["type", "pattern"]
    assert defs["FormatCheck"]["description"].startswith("Fails rows whose whole value")


# --- data masking ----------------------------------------------------------------------------


def test_masking_is_typed_and_becomes_the_mask_config() -> None:
    spec = _compile("""\
        security:
          data_masking:
            email: email
            phone: {strategy: partial, keep: 2}
            note: {strategy: redact, replacement: "[gone]"}
    """)
    masking = spec.body.security.data_masking
    assert isinstance(masking, dict) and masking["email"] == "email"
    assert masking["phone"] == ColumnMask(strategy="partial", keep=2)
    assert spec.step("mask").config["columns"] == {
        "email": "email", "phone": {"strategy": "partial", "keep": 2},
        "note": {"strategy": "redact", "replacement": "[gone]"}}


@pytest.mark.parametrize(("masking", "line", "text"), [
    ("{phone: {strategy: hash, keep: 2}}", 4, "`phone`: `keep` applies only to `strategy: "
     "partial`, not to `hash`"),
    ("{note: {strategy: partial, replacement: x}}", 4, "`replacement` applies only to "
     "`strategy: redact`"),
    ("{phone: partal}", 4, "`phone` is 'partal', which is not allowed"),
    ("{phone: {strategy: partial, kep: 2}}", 4, "unknown key `kep`. Did you mean `keep`?"),
])
def test_masking_mistakes_name_the_mask_step(masking: str, line: int, text: str) -> None:
    err = _error(f"security:\n  data_masking: {masking}\n")
    assert err.step == "mask"
    assert err.location is not None and err.location.line == line, err.render()
    assert text in err.render()


# --- keys ------------------------------------------------------------------------------------


def test_keys_are_typed_and_become_the_encrypt_config() -> None:
    spec = _compile("""\
        security:
          encryption: [ssn]
          keys:
            - {id: new, key: "0123456789abcdef-new"}
            - {id: old, vault: {path: dteg/keys, field: old}}
    """)
    new, old = spec.body.security.keys or []
    assert isinstance(new, KeyConfig) and isinstance(new.key, SecretStr)
    assert isinstance(old.vault, VaultKV) and old.vault.field == "old"
    assert spec.step("encrypt").config["keys"] == [
        {"id": "new", "key": "0123456789abcdef-new"},
        {"id": "old", "vault": {"path": "dteg/keys", "field": "old"}}]


def test_key_mistakes_name_the_encrypt_step() -> None:
    err = _error("security:\n  encryption: [ssn]\n  keys:\n    - {id: a, vault: {pth: x}}\n")
    assert (err.step, err.location.line, err.message) == (
        "encrypt", 6, "unknown key `pth`")
    assert err.hint == "Did you mean `path`?"


# --- helpers ---------------------------------------------------------------------------------


def test_policy_step_follows_the_names_insert_policy_steps_gives() -> None:
    one = [{"extract": {"type": "csv"}}, {"load": {"type": "duckdb"}}]
    assert policy_step("validate", one) == "validate"
    assert policy_step("mask", [*one, {"mask": {"columns": ["a"]}}]) == "mask_policy"
    assert policy_step("mask", [*one, {"load": {"name": "mask"}}]) == "mask_policy"
    assert policy_step("validate", [*one, {"extract": {"type": "csv"}}]) is None
    assert policy_step("validate", None) is None


def test_as_config_keeps_what_was_written_and_reveals_secrets() -> None:
    key = KeyConfig.model_validate({"id": "a", "key": "s3cret-s3cret-s3"})
    assert as_config([key, ColumnMask(strategy="partial")]) == [
        {"id": "a", "key": "s3cret-s3cret-s3"}, {"strategy": "partial"}]
    assert as_config({"a": ("x", SecretStr("y"))}) == {"a": ["x", "y"]}
