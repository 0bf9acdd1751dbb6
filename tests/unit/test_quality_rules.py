"""Every validation rule on a real data file (tests/data/security/people.csv), read by dteg's
CSV source: unicode names, an empty-string email beside a null one, very long values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from dteg.beam.quality import threshold_error
from dteg.components.contracts import RunContext
from dteg.errors import StepError
from dteg.spec.rules import Rule
from dteg.testing import check_source, check_stage, context
from dteg.transforms.unique import UniqueCheck
from dteg.transforms.validate import ValidateConfig

DATA = Path(__file__).resolve().parents[1] / "data" / "security"


@pytest.fixture(scope="module")
def people() -> pa.RecordBatch:
    table, dead = check_source("csv", {"path": str(DATA / "people.csv")}, base_dir=DATA)
    assert dead.num_rows == 0
    return table.combine_chunks().to_batches()[0]


def _validate(batch: pa.RecordBatch, *rules: dict[str, Any], tmp: Path, **config: Any):
    return check_stage("validate", {"rules": list(rules), **config}, batch, base_dir=tmp)


def _ids(batch: pa.RecordBatch | None, column: str = "id") -> list[Any]:
    return [] if batch is None else batch.column(column).to_pylist()


def _dead(result) -> list[tuple[Any, ...]]:
    rejected = result.rejected
    if rejected is None:
        return []
    return list(zip(rejected.column("rule").to_pylist(), rejected.column("column").to_pylist(),
                    rejected.column("reason").to_pylist(), strict=True))


def test_null_check_flags_null_but_not_empty_string(people, tmp_path) -> None:
    result = _validate(people, {"type": "null_check", "columns": ["email", "phone"]},
                       tmp=tmp_path)
    assert _dead(result) == [("null_check", "email", "`email` is null"),
                             ("null_check", "phone", "`phone` is null")]
    assert 4 in _ids(result.kept)  # id 4 has email "" (empty, not null)
    assert result.stats == {"rule:null_check:failed": 2}


def test_format_check_fails_the_empty_string_and_bad_formats(people, tmp_path) -> None:
    result = _validate(people, {"type": "format_check", "column": "email",
                                "pattern": r"[^@\s]+@[^@\s]+\.[a-z]{2,}"}, tmp=tmp_path)
    reasons = [r for _, _, r in _dead(result)]
    assert reasons == [r"`email` = '' does not match [^@\s]+@[^@\s]+\.[a-z]{2,}",
                       r"`email` = 'not-an-email' does not match [^@\s]+@[^@\s]+\.[a-z]{2,}"]
    assert 5 in _ids(result.kept)  # a null passes format_check (null_check's job)


def test_range_check_on_numbers(people, tmp_path) -> None:
    result = _validate(people, {"type": "range_check", "column": "amount", "min": 0},
                       {"type": "range_check", "name": "adult_age", "column": "age",
                        "min": 18, "max": 120}, tmp=tmp_path)
    assert _dead(result) == [
        ("range_check", "amount", "`amount` = -3.0 is outside [0.0, None]"),
        ("adult_age", "age", "`age` = 130 is outside [18.0, 120.0]")]


def test_accepted_values(people, tmp_path) -> None:
    result = _validate(people, {"type": "accepted_values", "column": "country",
                                "values": ["KR", "DE", "FR", "US", "GB", "JP", "CN"]},
                       tmp=tmp_path)
    assert [r for _, _, r in _dead(result)] == [
        "`country` = 'XX' is not one of ['KR', 'DE', 'FR', 'US', 'GB', 'JP', 'CN']"]


def test_length_check_counts_characters_not_bytes(people, tmp_path) -> None:
    # "김민지" is 3 characters (9 UTF-8 bytes); "A" is 1.
    result = _validate(people, {"type": "length_check", "column": "name", "min_length": 2,
                                "max_length": 3}, tmp=tmp_path)
    kept_names = result.kept.column("name").to_pylist()
    assert kept_names == ["김민지"]
    assert ("length_check", "name", "`name` = 'A' has a length outside [2, 3]") in _dead(result)


def test_type_check_with_a_type_and_with_a_schema(people, tmp_path) -> None:
    assert people.schema.field("signup").type == pa.string()  # one value is not a date
    result = _validate(people, {"type": "type_check", "column": "signup", "data_type": "date"},
                       tmp=tmp_path)
    assert _dead(result) == [("type_check", "signup",
                              "`signup` = '2024-13-40' is not a valid date")]
    result = _validate(people, {"type": "type_check", "schema": {
        "signup": "date", "age": "int8", "amount": "decimal(6,2)", "name": "string"}},
                       tmp=tmp_path)
    assert [(c, r) for _, c, r in _dead(result)] == [  # in row order
        ("age", "`age` = 130 is not a valid int8"),  # 130 does not fit int8
        ("signup", "`signup` = '2024-13-40' is not a valid date")]


def test_expression_rule_is_sql_over_the_row_with_no_file_access(people, tmp_path) -> None:
    result = _validate(people, {"type": "expression", "name": "big_means_active",
                                "expression": "amount < 100 OR status = 'active'"},
                       tmp=tmp_path)
    assert [(rule, col, reason) for rule, col, reason in _dead(result)] == [
        ("big_means_active", None, "the row breaks `amount < 100 OR status = 'active'`")]
    assert result.rejected.column("record").to_pylist()[0].startswith('{"id": 12,')
    with pytest.raises(StepError, match="not valid for this data"):
        _validate(people, {"type": "expression",
                           "expression": "(SELECT count(*) FROM read_text('/etc/passwd')) > 0"},
                  tmp=tmp_path)
    with pytest.raises(StepError, match="gives int32, not true/false"):
        _validate(people, {"type": "expression", "expression": "1"}, tmp=tmp_path)


def test_first_failing_rule_names_the_row_and_all_are_counted(people, tmp_path) -> None:
    result = _validate(people, {"type": "null_check", "column": "email"},
                       {"type": "null_check", "column": "email"},
                       {"type": "format_check", "column": "email", "pattern": ".+@.+"},
                       tmp=tmp_path)
    # Repeated rule types get numbered labels; counts are per rule, even for rows an earlier
    # rule already rejected.
    assert result.stats == {"rule:null_check:failed": 1, "rule:null_check_2:failed": 1,
                            "rule:format_check:failed": 2}
    # Rows 4 ("" email), 5 (null) and 6 (bad format), in row order.
    assert [rule for rule, _, _ in _dead(result)] == ["format_check", "null_check",
                                                      "format_check"]


def test_on_failure_drop_and_fail(people, tmp_path) -> None:
    result = _validate(people, {"type": "range_check", "column": "amount", "min": 0},
                       tmp=tmp_path, on_failure="drop")
    assert result.rejected is None and result.filtered == 1
    with pytest.raises(StepError) as info:
        _validate(people, {"type": "range_check", "column": "age", "max": 100,
                           "on_failure": "fail"}, tmp=tmp_path)
    assert "rule `range_check` failed on 1 row(s) of this batch, e.g. `age` = 130" \
        in str(info.value)


def test_very_long_values_are_cut_in_messages_not_in_records(tmp_path) -> None:
    long = "x" * 100_000 + "@nowhere"
    batch = pa.record_batch({"email": [long]})
    result = _validate(batch, {"type": "format_check", "column": "email",
                               "pattern": r".+@.+\..+"}, tmp=tmp_path)
    reason = result.rejected.column("reason").to_pylist()[0]
    assert len(reason) < 400 and "(100,008 characters)" in reason
    assert long in result.rejected.column("record").to_pylist()[0]


def test_dead_letter_values_are_masked(people, tmp_path) -> None:
    from dteg.transforms.mask import MaskConfig, RowMasker

    masker = RowMasker([MaskConfig(columns={"email": "email"})])
    ctx = RunContext(pipeline="t", step="v", base_dir=tmp_path, run_id="r", mask_row=masker)
    from dteg.transforms.validate import Validate

    stage = Validate(ValidateConfig.model_validate({"rules": [
        {"type": "format_check", "column": "email", "pattern": ".+@.+"}]}), ctx)
    result = stage.apply(people)
    reasons = result.rejected.column("reason").to_pylist()
    assert reasons == ["`email` = '***' does not match .+@.+",
                       "`email` = '***' does not match .+@.+"]
    assert "not-an-email" not in str(result.rejected.column("record").to_pylist())


@pytest.mark.parametrize(("rule", "message"), [
    ({"type": "type_check", "column": "a"}, "needs `data_type:`"),
    ({"type": "type_check", "column": "a", "data_type": "intt"}, "Did you mean `int`?"),
    ({"type": "expression"}, "needs `expression:`"),
    ({"type": "unique"}, "needs `column:` or `columns:`"),
    ({"type": "null_check", "column": "a", "max_invalid_ratio": 2}, "less than or equal to 1"),
])
def test_rule_config_errors(rule, message) -> None:
    with pytest.raises(ValidationError, match=message):
        Rule.model_validate(rule)


# --- unique (pure parts; the Beam stage is tested in the integration tests) ----------------


def _unique(batches: list[pa.RecordBatch], tmp: Path, **rule: Any):
    rule = {"type": "unique", **rule}
    check = UniqueCheck(Rule.model_validate(rule), "unique", rule.pop("on_failure", None)
                        or "quarantine", context(tmp))
    unchecked, buckets = [], {}
    for batch in batches:
        rest, parts = check.split(batch)
        if rest is not None:
            unchecked.append(rest)
        for bucket, part in parts:
            buckets.setdefault(bucket, []).append(part)
    results = [check.check(parts) for parts in buckets.values()]
    return unchecked, results


def test_unique_across_batches_keeps_the_first(people, tmp_path) -> None:
    halves = [people.slice(0, 7), people.slice(7)]
    unchecked, results = _unique(halves, tmp_path, column="id")
    assert unchecked == []
    kept = sorted(i for r in results for i in _ids(r.kept))
    assert kept == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14]
    dead = [r.rejected for r in results if r.rejected is not None]
    assert len(dead) == 1 and dead[0].column("reason").to_pylist() == [
        "`id` = 3 is a duplicate (another row has the same value)"]
    assert '"name": "Duplicate Id"' in dead[0].column("record").to_pylist()[0]


def test_unique_keep_none_and_combinations_and_null_keys(tmp_path) -> None:
    batch = pa.record_batch({"a": [1, 1, 2, None, None], "b": ["x", "x", "x", "y", "y"]})
    unchecked, results = _unique([batch], tmp_path, column="a", keep="none")
    assert sum(r.rejected.num_rows for r in results if r.rejected is not None) == 2
    assert unchecked[0].num_rows == 2  # null keys are not checked, as in SQL
    unchecked, results = _unique([batch], tmp_path, columns=["a", "b"], on_failure="drop")
    assert sum(r.filtered for r in results) == 1
    with pytest.raises(StepError, match="found 1 duplicate row"):
        _unique([batch], tmp_path, column="a", on_failure="fail")


def test_unique_buckets_agree_for_equal_keys(tmp_path) -> None:
    check = UniqueCheck(Rule(type="unique", column="k"), "unique", "quarantine",
                        context(tmp_path))
    one = dict(check.split(pa.record_batch({"k": ["김", "b", "c"]}))[1])
    two = dict(check.split(pa.record_batch({"k": ["c", "김"]}))[1])
    where = {v: b for b, part in one.items() for v in part.column("k").to_pylist()}
    assert all(where[v] == b for b, part in two.items() for v in part.column("k").to_pylist())


# --- thresholds ------------------------------------------------------------------------------


def test_threshold_error_names_the_step_rule_and_ratio() -> None:
    config = ValidateConfig.model_validate({"max_invalid_ratio": 0.1, "rules": [
        {"type": "null_check", "column": "a"},
        {"type": "format_check", "column": "b", "pattern": "x", "max_invalid_ratio": 0.01}]})
    assert threshold_error("v", config, {"rows": 0}) is None
    assert threshold_error("v", config, {"rows": 100, "invalid": 10,
                                         "rule:null_check:failed": 10}) is None
    error = threshold_error("v", config, {"rows": 100, "invalid": 12,
                                          "rule:null_check:failed": 10,
                                          "rule:format_check:failed": 2})
    assert error is not None
    text = str(error)
    assert text.startswith("step `v`: 12 of 100 rows (12.0%) failed validation, above "
                           "`max_invalid_ratio: 0.1`; rule `format_check` failed on 2 of 100 "
                           "rows (2.0%), above its `max_invalid_ratio: 0.01`")
    assert "(failures by rule: `null_check` 10, `format_check` 2)" in text
    assert "before any load committed" in text


@pytest.mark.parametrize("rule", [
    {"type": "null_check", "column": "age"},
    {"type": "format_check", "column": "age", "pattern": "[0-9]+"},
    {"type": "range_check", "column": "age", "min": 0},
    {"type": "accepted_values", "column": "age", "values": ["1"]},
    {"type": "length_check", "column": "age", "max_length": 3},
    {"type": "type_check", "column": "age", "data_type": "date"},
    {"type": "expression", "expression": "age > 0"},  # text columns: the SQL is not run
])
def test_every_rule_takes_a_batch_of_no_rows(tmp_path, rule) -> None:
    # A header-only CSV read without `schema:` gives one zero-row batch of text columns.
    empty = pa.RecordBatch.from_pylist([], schema=pa.schema([("age", pa.string())]))
    result = _validate(empty, rule, tmp=tmp_path)
    assert result.kept.schema.names == ["age"] and result.kept.num_rows == 0
    assert result.rejected is None or result.rejected.num_rows == 0


def test_unique_takes_a_batch_of_no_rows(tmp_path) -> None:
    empty = pa.RecordBatch.from_pylist([], schema=pa.schema([("id", pa.int64())]))
    _unchecked, results = _unique([empty], tmp_path, column="id")
    assert all(r.rejected is None or r.rejected.num_rows == 0 for r in results)
