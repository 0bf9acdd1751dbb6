"""pydantic errors become one located message per mistake, in the user's own key names."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from dteg.errors import ConnectorError, SpecError, SpecErrors
from dteg.spec.loader import load_yaml_text
from dteg.spec.model_errors import located_errors
from dteg.spec.phases import compile_spec


def _errors(text: str) -> list[SpecError]:
    with pytest.raises(SpecError) as info:
        compile_spec(Path("/nowhere/p.yaml"), text=textwrap.dedent(text).lstrip("\n"),
                     environ={})
    err = info.value
    return list(err.errors) if isinstance(err, SpecErrors) else [err]


def _one(text: str) -> SpecError:
    (err,) = _errors(text)
    return err


def _line(err: SpecError) -> int:
    assert err.location is not None
    return err.location.line


def test_union_errors_report_the_closest_branch_at_the_inner_line() -> None:
    err = _one("""
        pipeline:
          name: x
          security:
            data_masking:
              email: hash
              phone: {strategy: partial, kep: 4}
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - load: {type: duckdb, config: {table: t}}
    """)
    assert (err.step, _line(err), err.message, err.hint) == (
        "mask", 6, "unknown key `kep`", "Did you mean `keep`?")


def test_union_of_literal_and_model() -> None:
    err = _one("""
        pipeline:
          name: x
          security:
            data_masking:
              email: hashh
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - load: {type: duckdb, config: {table: t}}
    """)
    assert _line(err) == 5
    assert err.message == "`email` is 'hashh', which is not allowed"
    assert "list[str]" not in err.render() and "ColumnMask" not in err.render()


def test_union_of_text_and_list_names_the_bad_item() -> None:
    err = _one("""
        pipeline:
          name: x
          steps:
            - extract:
                type: csv
                config:
                  path:
                    - a.csv
                    - 3
            - load: {type: duckdb, config: {table: t}}
    """)
    assert (_line(err), err.message) == (9, "`path` item 2 must be text, not 3")


def test_pattern_and_empty_list_messages() -> None:
    name, steps = _errors("""
        pipeline:
          name: my pipeline
          steps: []
    """)
    assert name.message == "`name` is 'my pipeline', which does not have the required form"
    assert name.hint == "It must match the regular expression `^[A-Za-z0-9_.\\-]+$`."
    assert (_line(steps), steps.message, steps.hint) == (3, "`steps` is empty",
                                                          "Add at least one.")


def test_unknown_top_level_key_suggests_the_known_one() -> None:
    err = _one("""
        pipeline:
          name: x
          shedule: "0 1 * * *"
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - load: {type: duckdb, config: {table: t}}
    """)
    assert (_line(err), err.message, err.hint) == (3, "unknown key `shedule`",
                                                   "Did you mean `schedule`?")


def test_unknown_key_without_a_close_match_lists_the_allowed_ones() -> None:
    err = _one("""
        pipeline:
          name: x
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - load: {type: duckdb, config: {table: t, colour: red}}
    """)
    assert err.message == "unknown key `colour`"
    assert err.hint == ("Allowed keys here: `database`, `delete_column`, `delete_value`, `key`, "
                        "`mode`, `order_by`, `schema_evolution`, `table`.")


def test_model_level_rule_points_at_the_config_mapping() -> None:
    err = _one("""
        pipeline:
          name: x
          steps:
            - extract:
                type: duckdb
                config:
                  database: a.duckdb
            - load: {type: duckdb, config: {table: t}}
    """)
    # A model-level rule that names no key stays at the config mapping.
    assert (_line(err), err.message) == (6, "give exactly one of `table:` or `query:`")


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: _Inner
    items: list[int]


def test_located_errors_directly() -> None:
    doc = load_yaml_text("inner:\n  sise: 3\nitems: [1, two]\n", "m.yaml")
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate(doc.data)
    errs = located_errors(info.value, model=_Outer, source_map=doc.source_map, step="s",
                          data=doc.data)
    rendered = [e.render() for e in errs]
    # `sise` for `size` is reported once, as a typo, not also as "`size` is required".
    assert rendered == [
        "step `s` (m.yaml:2): unknown key `sise`. Did you mean `size`?",
        "step `s` (m.yaml:3): `items` item 2 must be a whole number, not 'two'. Fix the value; "
        "quote it if YAML read it as another type.",
    ]


def test_render_ends_the_message_before_the_hint() -> None:
    assert SpecError("bad thing", hint="Do this.").render() == "bad thing. Do this."
    assert SpecError("bad thing.", hint="Do this.").render() == "bad thing. Do this."
    assert SpecError("bad thing").render() == "bad thing"


def test_errors_pickle_with_their_fields() -> None:
    err = ConnectorError("cannot connect", step="src", hint="Start the server.", retriable=True)
    again = pickle.loads(pickle.dumps(err))
    assert (again.step, again.retriable, str(again)) == (
        "src", True, "step `src`: cannot connect. Start the server.")
    many = SpecErrors([SpecError("a"), SpecError("b", hint="Fix b.")])
    assert many.render() == "2 problems found:\n- a\n- b. Fix b."
    assert pickle.loads(pickle.dumps(many)).render() == many.render()


def test_a_misspelt_step_body_key_is_compared_with_the_body_keys() -> None:
    err = _one("""
        pipeline:
          name: x
          steps:
            - extract:
                type: csv
                confg: {path: a.csv}
            - load: {type: jsonl, config: {path: out.jsonl}}
        """)
    assert "unknown key `confg` in the body of `extract`" in str(err)
    assert "Did you mean `config`?" in str(err) and "encoding" not in str(err)
    assert _line(err) == 6


def test_allowed_keys_are_listed_by_their_yaml_names_not_python_field_names() -> None:
    err = _one("""
        pipeline:
          name: x
          steps:
            - extract: {type: csv, config: {path: a.csv, incremental: {cursor: id}}}
            - load: {type: jsonl, config: {path: out.jsonl}}
        """)
    assert "`schema`" in str(err) and "schema_" not in str(err)


def test_a_wrong_declared_column_type_points_at_the_column_line() -> None:
    err = _one("""
        pipeline:
          name: x
          steps:
            - extract:
                type: csv
                config:
                  path: a.csv
                  schema:
                    id: int
                    amount: numerc
            - load: {type: jsonl, config: {path: out.jsonl}}
        """)
    assert _line(err) == 10 and "`amount`: unknown column type `numerc`" in str(err)


def test_numeric_and_decimal_are_declared_types() -> None:
    import pyarrow as pa

    from dteg.components.types import parse_type

    assert parse_type("numeric") == parse_type("decimal") == pa.decimal128(38, 9)
    assert parse_type("numeric(12,2)") == pa.decimal128(12, 2)
    spec = compile_spec(Path("/nowhere/p.yaml"), environ={}, text=textwrap.dedent("""
        pipeline:
          name: x
          steps:
            - extract: {type: csv, config: {path: a.csv, schema: {amount: numeric}}}
            - load: {type: jsonl, config: {path: out.jsonl}}
        """))
    assert spec.steps[0].config["schema"] == {"amount": "numeric"}


def test_keyless_hash_is_refused_when_restricted_and_warned_about_otherwise() -> None:
    text = """
        pipeline:
          name: x
          security:
            access_level: {level}
            data_masking: [email]
            {key}
          steps:
            - extract: {{type: csv, config: {{path: a.csv}}}}
            - mask: {{input: extract, config: {{columns: {{phone: hash}}}}}}
            - load: {{type: jsonl, config: {{path: out.jsonl}}}}
        """
    errors = _errors(text.format(level="restricted", key=""))
    assert [(e.step, _line(e)) for e in errors] == [("mask_policy", 5), ("mask", 9)]
    assert "`email` is masked with `hash` but no masking key is set" in str(errors[0])
    assert "masking_key: ${env:DTEG_MASKING_KEY}" in str(errors[0])
    spec = compile_spec(Path("/nowhere/p.yaml"), environ={}, text=textwrap.dedent(
        text.format(level="internal", key="")))
    assert sum("plain SHA-256" in w for w in spec.warnings) == 2
    keyed = compile_spec(Path("/nowhere/p.yaml"), environ={}, text=textwrap.dedent(
        text.format(level="restricted", key="masking_key: k")).replace(
        "{phone: hash}", "{phone: hash}, key: k2"))
    assert not any("plain SHA-256" in w for w in keyed.warnings)


def test_backfill_advice_names_the_sources_that_can_read_by_a_cursor() -> None:
    from dteg.run.backfill import no_cursor_hint

    csv = compile_spec(Path("/nowhere/p.yaml"), environ={}, text=textwrap.dedent("""
        pipeline:
          name: x
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - load: {type: jsonl, config: {path: out.jsonl}}
        """))
    hint = no_cursor_hint(csv)
    assert "`csv` cannot read by a cursor" in hint and "`mysql`, `postgres`" in hint
    pg = compile_spec(Path("/nowhere/p.yaml"), environ={}, text=textwrap.dedent("""
        pipeline:
          name: x
          steps:
            - extract: {name: orders, type: postgres, config: {url: "postgresql://h/db",
                        table: orders}}
            - load: {type: jsonl, config: {path: out.jsonl}}
        """))
    assert "to the config of `orders`" in no_cursor_hint(pg)
