"""The `tests:` block of a pipeline file: its model, located errors, and the row diff
(`dteg test pipeline.yaml` runs it; tests/integration/test_pipeline_tests.py runs that)."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from dteg.errors import SpecError, SpecErrors
from dteg.run.pipeline_tests.compare import canon, compare, dead_letter_match
from dteg.spec.json_schema import pipeline_json_schema
from dteg.spec.phases import compile_spec
from dteg.spec.tests_block import DeadLetterExpectation, Expectation
from tests.unit._helpers import shape

PIPELINE = """
pipeline:
  name: p
  steps:
    - extract: {name: orders, type: csv, config: {path: "${env:ORDERS_CSV}"}}
    - filter: {where: "amount > 0"}
    - load: {name: out, type: duckdb, config: {table: t}}
"""


def _spec_text(tests: str) -> str:
    return PIPELINE + tests


def _error(text: str, environ: dict[str, str] | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        compile_spec("p.yaml", text=text, environ=environ or {"ORDERS_CSV": "o.csv"})
    return info.value


def test_a_tests_block_is_parsed_and_kept_as_written() -> None:
    spec = compile_spec("p.yaml", text=_spec_text("""
tests:
  - name: keeps positive amounts
    env: {ORDERS_CSV: fixture.csv}
    inputs:
      orders:
        rows: [{id: 1, amount: 5, note: "${env:NOT_SET}"}]
    expect:
      out: {key: id, rows: [{id: 1, amount: 5}]}
    dead_letter: {count: 0}
"""), environ={"ORDERS_CSV": "o.csv"})
    (test,) = spec.tests
    assert test.name == "keeps positive amounts"
    assert test.env == {"ORDERS_CSV": "fixture.csv"}
    # Test rows are data: a `${…}` in them is not resolved (NOT_SET is not in the env).
    assert test.inputs["orders"].rows == [{"id": 1, "amount": 5, "note": "${env:NOT_SET}"}]
    assert test.expect["out"].key == ["id"]  # one key column may be written as text
    assert test.dead_letter is not None and test.dead_letter.count == 0


def test_a_pipeline_without_tests_has_none() -> None:
    assert compile_spec("p.yaml", text=PIPELINE, environ={"ORDERS_CSV": "o.csv"}).tests == ()


def test_an_unknown_key_in_a_test_names_its_line_and_the_known_keys() -> None:
    err = _error(_spec_text("""
tests:
  - name: t
    inputs: {orders: {rows: []}}
    expekt: {out: {count: 0}}
"""))
    assert err.location is not None and err.location.line == 12
    assert "expekt" in err.render() and "expect" in err.render()


def test_rows_and_path_together_are_refused_at_the_input() -> None:
    err = _error(_spec_text("""
tests:
  - name: t
    inputs:
      orders: {rows: [], path: a.csv}
    expect: {out: {count: 0}}
"""))
    assert err.location is not None and err.location.line == 12
    assert "either `rows:`" in err.message


def test_a_fixture_must_be_csv_or_jsonl() -> None:
    err = _error(_spec_text("""
tests:
  - name: t
    inputs: {orders: {path: a.parquet}}
    expect: {out: {count: 0}}
"""))
    assert "must be a .csv or .jsonl" in err.message


def test_an_unknown_column_type_in_an_input_schema_is_located() -> None:
    err = _error(_spec_text("""
tests:
  - name: t
    inputs:
      orders: {rows: [{amount: 1}], schema: {amount: "decimel(12,2)"}}
    expect: {out: {count: 0}}
"""))
    assert err.location is not None and err.location.line == 12
    assert "unknown column type `decimel(12,2)`" in err.message


def test_a_test_that_checks_nothing_is_refused() -> None:
    err = _error(_spec_text("""
tests:
  - name: t
    inputs: {orders: {rows: []}}
"""))
    assert err.location is not None and err.location.line == 10
    assert "checks nothing" in err.message


def test_two_tests_of_one_name_are_refused() -> None:
    err = _error(_spec_text("""
tests:
  - name: same
    inputs: {orders: {rows: []}}
    expect: {out: {count: 0}}
  - name: same
    inputs: {orders: {rows: []}}
    expect: {out: {count: 0}}
"""))
    assert err.location is not None and err.location.line == 13
    assert "the other at p.yaml:10" in err.message


def test_steps_a_test_names_must_be_extracts_and_loads() -> None:
    err = _error(_spec_text("""
tests:
  - name: t
    inputs: {ordrs: {rows: []}}
    expect: {filter: {count: 0}}
"""))
    assert isinstance(err, SpecErrors)
    first, second = err.errors
    assert "`inputs.ordrs` names no extract step" in first.message
    assert "Did you mean `orders`?" in (first.hint or "")
    assert first.location is not None and first.location.line == 11
    assert "`expect.filter` names no load step" in second.message
    assert "Known load steps: out" in (second.hint or "")


def test_tests_must_be_a_list() -> None:
    with pytest.raises(SpecError, match="must be a list of tests"):
        shape(PIPELINE + "tests: {name: t}\n", environ={"ORDERS_CSV": "o.csv"})


def test_dead_letters_take_no_key() -> None:
    with pytest.raises(ValueError, match="matched row by row"):
        DeadLetterExpectation(count=1, key=["id"])


def test_validate_checks_the_tests_block(cli, write_pipeline) -> None:
    path = write_pipeline("""
        pipeline:
          name: p
          steps:
            - extract: {type: jsonl, config: {path: data.jsonl, allow_empty: true}}
            - load: {type: duckdb, config: {table: t}}
        tests:
          - name: t
            inputs: {extract: {rows: [{id: 1}]}}
            expect: {lod: {count: 1}}
        """)
    result = cli("validate", str(path))
    assert result.code == 2
    assert "pipeline.yaml:9" in result.err and "`expect.lod` names no load step" in result.err
    assert "Traceback" not in result.text


def test_the_json_schema_describes_tests() -> None:
    schema = pipeline_json_schema()
    assert schema["properties"]["tests"]["items"] == {"$ref": "#/$defs/PipelineTest"}
    test = schema["$defs"]["PipelineTest"]["properties"]
    assert {"name", "env", "inputs", "expect", "dead_letter", "error"} <= set(test)
    assert {"rows", "contains", "count", "key", "ordered", "ignore_columns"} <= set(
        schema["$defs"]["Expectation"]["properties"])


# --- the diff ----------------------------------------------------------------------------


def test_values_compare_the_way_yaml_writes_them() -> None:
    utc = dt.datetime(2024, 6, 1, 9, 0, tzinfo=dt.UTC)
    assert canon(utc) == canon("2024-06-01T09:00:00+00:00")
    assert canon(decimal.Decimal("12.50")) == canon(12.5)
    assert canon(0.1 + 0.2) == canon(0.3)
    assert canon(dt.date(2024, 1, 15)) == "2024-01-15"
    assert canon({"b": 1, "a": [1, 2]}) == canon({"a": [1, 2], "b": 1})


def test_exact_rows_ignore_order_and_list_missing_and_unexpected_rows() -> None:
    want = Expectation(rows=[{"id": 1}, {"id": 2}])
    assert not compare(want, [{"id": 2}, {"id": 1}])
    diff = compare(want, [{"id": 2}, {"id": 3}])
    assert diff.missing == [{"id": 1}] and diff.unexpected == [{"id": 3}]
    assert "missing (expected, not received): 1 row" in diff.lines()
    assert "  - {id: 3}" in diff.lines()


def test_rows_are_a_multiset() -> None:
    diff = compare(Expectation(rows=[{"id": 1}]), [{"id": 1}, {"id": 1}])
    assert diff.unexpected == [{"id": 1}]


def test_by_key_the_diff_names_the_changed_cells() -> None:
    want = Expectation(key=["id"], rows=[{"id": 1, "email": "a"}, {"id": 2, "email": "b"}])
    diff = compare(want, [{"id": 1, "email": "a"}, {"id": 2, "email": "B"}, {"id": 9,
                                                                            "email": "z"}])
    assert diff.changed == ['id=2: email: expected "b", got "B"']
    assert diff.unexpected == [{"id": 9, "email": "z"}] and not diff.missing


def test_contains_checks_only_the_columns_given_and_allows_more_rows() -> None:
    got = [{"id": 1, "email": "x", "n": 1}, {"id": 2, "email": "y", "n": 2}]
    assert not compare(Expectation(contains=[{"id": 2, "n": 2}]), got)
    diff = compare(Expectation(contains=[{"id": 3}]), got)
    assert diff.missing == [{"id": 3}] and not diff.unexpected


def test_count_and_ignored_columns() -> None:
    got = [{"id": 1, "secret": "v1:abc"}]
    assert not compare(Expectation(rows=[{"id": 1}], ignore_columns=["secret"], count=1), got)
    diff = compare(Expectation(count=2), got)
    assert diff.notes == ["count: expected 2 rows, got 1"]
    note = compare(Expectation(rows=[{"id": 1}]), got).notes[0]
    assert "received but not expected: secret" in note and "ignore_columns" in note


def test_ordered_rows_are_compared_position_by_position() -> None:
    diff = compare(Expectation(rows=[{"id": 1}, {"id": 2}], ordered=True),
                   [{"id": 2}, {"id": 1}])
    assert diff.changed == ["row 1: id: expected 1, got 2", "row 2: id: expected 2, got 1"]


def test_a_dead_letter_matches_on_part_of_its_reason_and_record() -> None:
    got = {"step": "validate", "rule": "null_check", "column": "email",
           "reason": "email is null", "record": {"id": 2, "email": None}}
    assert dead_letter_match({"reason": "is null", "record": {"id": 2}}, got)
    assert not dead_letter_match({"reason": "too long"}, got)
    assert not dead_letter_match({"record": {"id": 3}}, got)
    assert not dead_letter_match({"step": "mask"}, got)


def test_dteg_test_on_a_file_without_tests_says_how_to_add_them(cli, write_pipeline) -> None:
    path = write_pipeline(PIPELINE)
    result = cli("test", str(path))
    assert result.code == 2
    assert "has no `tests:` block" in result.err and "Add `tests:`" in result.err
    assert "Traceback" not in result.text


def test_dteg_test_names_a_missing_pipeline_file(cli, tmp_path) -> None:
    result = cli("test", str(tmp_path / "nope.yaml"))
    assert result.code == 2 and "no pipeline file at" in result.err


def test_given_rows_are_cast_to_the_input_schema_and_fixtures_are_read(tmp_path) -> None:
    import pyarrow as pa

    from dteg.errors import Location
    from dteg.run.pipeline_tests.fixtures import input_table
    from dteg.spec.tests_block import TestInput

    here = Location("p.yaml", 3)
    given = TestInput.model_validate({"rows": [{"id": 1, "v": 1520.5}, {"id": 2}],
                                      "schema": {"v": "decimal(12,2)"}})
    table = input_table(given, tmp_path, here, "t")
    assert table.schema.field("v").type == pa.decimal128(12, 2)
    assert table.column("v").to_pylist() == [decimal.Decimal("1520.50"), None]
    (tmp_path / "f.jsonl").write_text('{"id": 1}\n\n{"id": 2, "x": "a"}\n')
    table = input_table(TestInput(path="f.jsonl"), tmp_path, here, "t")
    assert table.to_pylist() == [{"id": 1, "x": None}, {"id": 2, "x": "a"}]
    (tmp_path / "f.csv").write_text("id,at\n1,2024-01-01T00:00:00\n")
    table = input_table(TestInput(path="f.csv"), tmp_path, here, "t")
    assert pa.types.is_timestamp(table.schema.field("at").type)
    bad = TestInput.model_validate({"rows": [{"v": "abc"}], "schema": {"v": "int"}})
    with pytest.raises(SpecError, match="the values of `v` do not cast to `int`") as info:
        input_table(bad, tmp_path, here, "t")
    assert info.value.location == here
    with pytest.raises(SpecError, match="not JSON Lines"):
        (tmp_path / "bad.jsonl").write_text("{nope\n")
        input_table(TestInput(path="bad.jsonl"), tmp_path, here, "t")
