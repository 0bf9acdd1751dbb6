"""PII detection, `dteg profile`, and the restricted-access guard, on real data files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dteg.errors import StepError
from dteg.quality.profile import profile_file, source_for_file
from dteg.security.access import RestrictedGuard
from dteg.security.pii import classify_batch, classify_values, luhn_ok
from dteg.testing import context

from ._helpers import REPO

DATA = Path(__file__).resolve().parents[1] / "data" / "security"


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("5500000000000004")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(("values", "kind"), [
    (["a@b.co", "x.y+z@mail.example.org"], "email"),
    (["010-1234-5678", "+1 415 555 0101", "(415) 555-0101"], "phone"),
    (["4111 1111 1111 1111", "5500-0000-0000-0004"], "card_number"),
    (["123-45-6789", "234-56-7890"], "us_ssn"),
    (["900101-1234567", "851231-2345678"], "kr_rrn"),
    (["2024-01-15", "2024-02-03"], None),  # dates are not phone numbers
    (["1520.50", "310.00"], None),  # nor are amounts
    (["192.168.100.200"], None),  # nor IP addresses
    (["4111 1111 1111 1112"], None),  # Luhn fails
    (["***@example.com", "***@x.org"], None),  # masked emails
    (["dteg:v1:k1:AAAA", "5f2c…"], None),
    (["", "  "], None),
])
def test_classify_values(values, kind) -> None:
    found = classify_values(values)
    assert (found.kind.name if found else None) == kind


def test_half_of_the_values_must_match() -> None:
    assert classify_values(["a@b.co", "nope", "nope"]) is None
    found = classify_values(["a@b.co", "c@d.co", "nope"])
    assert found is not None and (found.matched, found.checked) == (2, 3)


def test_people_file_columns(tmp_path) -> None:
    (profile,) = profile_file(DATA / "people.csv")
    by_name = {c.name: c for c in profile.columns}
    assert profile.rows == 14 and profile.unreadable == 0
    assert {n: c.pii for n, c in by_name.items() if c.pii} == {
        "name": "person_name", "email": "email", "phone": "phone", "ssn": "us_ssn",
        "card": "card_number"}
    email = by_name["email"]
    assert (email.nulls, email.empty) == (1, 1)  # the null and the "" are told apart
    assert email.min is None and email.max is None  # flagged columns do not show values
    assert by_name["age"].min == 22 and by_name["age"].max == 130
    assert by_name["id"].distinct == 13  # id 3 appears twice
    assert by_name["name"].min is None  # names are hidden like the rest


def test_profile_command_on_a_file_prints_a_masking_block(cli) -> None:
    result = cli("profile", str(DATA / "people.csv"))
    assert result.code == 0, result.text
    out = result.out
    assert f"profile of {DATA / 'people.csv'} (csv) · 14 rows sampled" in out
    assert "minji.kim@example.com" not in out and "123-45-6789" not in out
    block = out.split("to mask them, add:", 1)[1].strip()
    assert block.splitlines() == [
        "security:", "  data_masking:", "    name: hash", "    email: hash",
        "    phone: {strategy: partial, keep: 4}", "    ssn: redact",
        "    card: {strategy: partial, keep: 4}",
        "  masking_key: ${env:DTEG_MASKING_KEY}"]


def test_profile_json_on_a_pipeline(cli) -> None:
    result = cli("profile", str(REPO / "pipelines" / "quickstart.yaml"), "--format", "json",
                 "--rows", "5")
    assert result.code == 0, result.text
    data = json.loads(result.out)
    (profile,) = data["profiles"]
    assert profile["rows"] == 5 and profile["source"].startswith("step `extract` of ")
    assert data["suggested_data_masking"] == {
        "name": "hash", "email": "hash", "phone": {"strategy": "partial", "keep": 4}}
    assert data["suggested_masking_key"] == "${env:DTEG_MASKING_KEY}"


def test_profile_picks_the_source_by_extension(tmp_path, cli) -> None:
    assert source_for_file(Path("a.csv.gz")) == ("csv", {"path": str(Path("a.csv.gz")
                                                                    .resolve())})
    assert source_for_file(Path("a.tsv"))[1]["delimiter"] == "\t"
    assert source_for_file(Path("x.NDJSON"))[0] == "jsonl"
    pq.write_table(pa.table({"contact": ["a@b.co", "c@d.co"], "n": [1, 2]}),
                   tmp_path / "t.parquet")
    (profile,) = profile_file(tmp_path / "t.parquet")
    assert [c.pii for c in profile.columns] == ["email", None]
    missing = cli("profile", str(tmp_path / "notes.txt"))
    assert missing.code == 2 and "does not exist" in missing.err
    (tmp_path / "notes.txt").write_text("x")
    bad = cli("profile", str(tmp_path / "notes.txt"))
    assert bad.code == 2 and "unknown extension `.txt`" in bad.err


def test_restricted_guard_names_the_columns_and_the_fix(tmp_path) -> None:
    batch = pa.record_batch({"id": [1, 2], "mail": ["a@b.co", "c@d.co"],
                             "tel": ["010-1234-5678", "010-2345-6789"]})
    guard = RestrictedGuard(context(tmp_path), "load", covered={"tel"})
    with pytest.raises(StepError) as info:
        guard.apply(batch)
    text = str(info.value)
    assert text.startswith("step `load`: the pipeline's access_level is `restricted`, but 1 "
                           "column(s) about to be loaded look like unmasked personal data: "
                           "`mail` (email addresses: 2 of 2 sampled values)")
    assert ('`security: {data_masking: {mail: hash}, masking_key: "${env:DTEG_MASKING_KEY}"}`'
            in text)
    assert "a@b.co" not in text
    assert RestrictedGuard(context(tmp_path), "load", {"mail", "tel"}).apply(batch).kept \
        is batch


def test_classify_batch_checks_integer_columns_for_card_numbers_only() -> None:
    batch = pa.record_batch({"card": [4111111111111111, 5500000000000004],
                             "n": [123456789, 987654321]})
    assert list(classify_batch(batch)) == ["card"]


def test_profile_flags_person_names_and_suggests_a_keyed_hash(tmp_path) -> None:
    from dteg.quality.profile import masking_yaml, profile_table, suggested_masking

    table = pa.table({
        "customer_name": ["김민지", "Lee Jun", "Ana"],
        "who": ["Ada Lovelace", "Grace Hopper", "Alan Turing"],
        "city": ["New York", "New York", "Paris"],
        "status": ["active", "inactive", "active"]})
    profile = profile_table(table, "t")
    assert {c.name: c.pii for c in profile.columns} == {
        "customer_name": "person_name", "who": "person_name", "city": None, "status": None}
    block = masking_yaml(suggested_masking([profile]))
    assert "    customer_name: hash" in block
    assert block.endswith("\n  masking_key: ${env:DTEG_MASKING_KEY}")


def test_profile_table_keeps_a_value_with_a_line_break_on_one_line() -> None:
    from dteg.quality.profile import profile_table, render_text

    text = render_text([profile_table(pa.table({"note": ["a\nb", "c\td"]}), "t")])
    row = next(line for line in text.splitlines() if line.lstrip().startswith("note"))
    assert "a\\nb" in row and "c\\td" in row
    assert "1 row sampled" in render_text([profile_table(pa.table({"n": [1]}), "t")])


def test_restricted_guard_suggests_a_mask_step_after_the_map_that_made_a_column(
        tmp_path) -> None:
    batch = pa.record_batch({"id": [1, 2], "contact": ["a@b.co", "c@d.co"],
                             "ssn": ["123-45-6789", "234-56-7890"]})
    guard = RestrictedGuard(context(tmp_path), "load", covered=set(),
                            created={"contact": "add_contact"})
    with pytest.raises(StepError) as info:
        guard.apply(batch)
    text = str(info.value)
    assert "`security: {data_masking: {ssn: redact}}`" in text
    assert ("for `contact`, made by step `add_contact` after the extract (where "
            "`security.data_masking` runs), a mask step after it: `- mask: {input: "
            'add_contact, config: {columns: {contact: hash}, key: "${env:DTEG_MASKING_KEY}"}}`'
            in text)


def test_the_compiler_tells_the_guard_which_step_made_a_column() -> None:
    from dteg.beam.compiler import columns_made_before
    from dteg.spec.phases import compile_spec

    spec = compile_spec(Path("/nowhere/p.yaml"), environ={}, text="""
pipeline:
  name: x
  steps:
    - extract: {type: csv, config: {path: a.csv}}
    - map: {name: add_contact, config: {columns: {contact: "lower(email)"},
                                        rename: {id: customer_id}}}
    - load: {type: jsonl, config: {path: out.jsonl}}
""")
    assert columns_made_before(spec, "load") == {"contact": "add_contact",
                                                 "customer_id": "add_contact"}


def test_the_restricted_guards_suggestions_paste_as_yaml(tmp_path) -> None:
    import re

    import yaml

    batch = pa.record_batch({"mail": ["a@b.co", "c@d.co"], "contact": ["a@b.co", "c@d.co"]})
    guard = RestrictedGuard(context(tmp_path), "load", covered=set(),
                            created={"contact": "add_contact"})
    with pytest.raises(StepError) as info:
        guard.apply(batch)
    security, step = re.findall(r"`((?:security: |- mask: )[^`]*)`", str(info.value))
    assert yaml.safe_load(security) == {"security": {
        "data_masking": {"mail": "hash"}, "masking_key": "${env:DTEG_MASKING_KEY}"}}
    assert yaml.safe_load(step) == [{"mask": {"input": "add_contact", "config": {
        "columns": {"contact": "hash"}, "key": "${env:DTEG_MASKING_KEY}"}}}]
