"""Every file in broken/ holds one realistic mistake. `dteg validate` must refuse it with exit
code 2, name the file and the exact line, the step (where there is one) and what to do — and
print no Python traceback unless --debug is given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ._helpers import BROKEN, REPO

# file, line of the mistake, step the message names (None: not inside a step), helpful phrase
CASES: list[tuple[str, int, str | None, str]] = [
    ("bad_indentation.yaml", 8, None, "not indented like the keys above it"),
    ("step_body_dedented.yaml", 7, None,
     "Indent `config:` (and the lines under it) to the level of the keys under `extract:`"),
    ("tab_characters.yaml", 7, None, "Replace the tab with spaces"),
    ("unknown_step_kind.yaml", 4, None, "unknown step kind `extrct`. Did you mean `extract`?"),
    ("source_type_typo.yaml", 6, "read_orders", "unknown source type `csvv`. Did you mean `csv`?"),
    ("transform_used_as_load.yaml", 10, "hide_pii", "`mask` is a transform, not a sink"),
    ("csv_missing_path.yaml", 7, "read_orders", "`path` is required but missing"),
    ("config_key_typo.yaml", 8, "read_orders", "unknown key `pth`. Did you mean `path`?"),
    ("step_body_key_typo.yaml", 7, "read_orders",
     "unknown key `confg` in the body of `extract`. Did you mean `config`?"),
    ("schema_column_type_typo.yaml", 11, "read_orders",
     "`amount`: unknown column type `integr`. Did you mean `integer`?"),
    ("restricted_hash_without_key.yaml", 5, "mask",
     "`access_level: restricted` does not allow that. Set `security.masking_key`, e.g. "
     "`masking_key: ${env:DTEG_MASKING_KEY}`"),
    ("wrong_value_type.yaml", 9, "read_orders", "`batch_rows` must be a whole number, not 'lots'"),
    ("invalid_enum.yaml", 13, "warehouse", "Use one of: 'append', 'replace' or 'merge'"),
    ("input_cycle.yaml", 11, "paid", "cycle through `input:`: paid → recent → paid"),
    ("input_unknown_step.yaml", 11, "warehouse",
     "`input: read_order` names no step. Did you mean `read_orders`?"),
    ("undefined_env.yaml", 8, "read_orders", "the environment variable `NOPE` is not set"),
    ("missing_file_reference.yaml", 5, None, "cannot read `${file:missing.txt}`"),
    ("duplicate_key.yaml", 13, None,
     "the key `table` appears twice in one mapping (first at line 11)"),
    ("duplicate_step_names.yaml", 10, "orders", "two steps are named `orders`"),
    ("missing_pipeline_key.yaml", 1, None, "under a top-level `pipeline:` key"),
    ("empty.yaml", 1, None, "the file is empty"),
    ("merge_without_key.yaml", 13, "warehouse", "`mode: merge` needs `key:`"),
    ("format_check_without_pattern.yaml", 7, "validate",
     "`validation_rules` item 2: rule `format_check` needs `pattern:`"),
    ("invalid_regex.yaml", 7, "validate", "`pattern` is not a valid regular expression"),
    ("schedule_hour_out_of_range.yaml", 3, None,
     "`schedule`: hour 25 is out of range 0–23 in `0 25 * * *`. Cron fields: minute hour "
     "day-of-month month day-of-week, e.g. `0 6 * * mon-fri`"),
    ("schedule_unknown_timezone.yaml", 5, None,
     "`Europe/Berln` is not a time zone. Did you mean `Europe/Berlin`?"),
    ("alert_type_typo.yaml", 15, None,
     "unknown alert type `slak`. Did you mean `slack`? Known alert types: slack, email, "
     "webhook."),
    ("alert_missing_field.yaml", 16, None, "`url` is required but missing"),
    ("rule_key_of_another_type.yaml", 8, "validate",
     "`validation_rules` item 1: `pattern` is not a key of `range_check` rules. They take "
     "`column`, `columns`, `min`, `max`"),
    ("mask_option_of_another_strategy.yaml", 8, "mask",
     "`keep` applies only to `strategy: partial`, not to `hash`"),
    # Found without reading data (settings' preflight): what `dteg run` would fail on first.
    ("input_file_missing.yaml", 4, "read_orders",
     "orders_2024.csv; check the path (relative paths are taken from the pipeline file"),
    ("schema_column_not_in_header.yaml", 4, "read_orders",
     "the declared `schema:` names column(s) ['contry']"),
    ("filter_invalid_sql.yaml", 9, "positive", "`where:` is not valid SQL"),
    ("map_invalid_sql.yaml", 9, "derive", "`columns.total` is not valid SQL"),
    ("rule_expression_invalid_sql.yaml", 9, "checks",
     "the expression of rule `positive` is not valid SQL"),
    ("dbt_without_project.yaml", 15, "models", "missing dbt_project.yml"),
]


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.name for p in BROKEN.glob("*.yaml")) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(("name", "line", "step", "phrase"), CASES, ids=[c[0] for c in CASES])
def test_validate_refuses_broken_pipeline(
    cli, monkeypatch: pytest.MonkeyPatch, name: str, line: int, step: str | None, phrase: str
) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    path = str(BROKEN / name)
    result = cli("validate", path)
    assert result.code == 2, result.text
    assert result.out == ""
    assert result.err.startswith("error: ")
    # One mistake, one message (no follow-on errors caused by the first).
    assert "problems found" not in result.err
    assert f"{path}:{line}" in result.err
    assert f"{path}:{line + 1}" not in result.err
    if step is None:
        assert result.err.startswith(f"error: {path}:{line}: ")
    else:
        assert f"step `{step}` ({path}:{line})" in result.err
    assert phrase in result.err
    assert "Traceback" not in result.text


def test_debug_shows_the_traceback(cli) -> None:
    path = str(BROKEN / "source_type_typo.yaml")
    result = cli("validate", path, "--debug")
    assert result.code == 2
    assert "Traceback (most recent call last)" in result.err
    assert "dteg.errors.SpecError" in result.err
    # The friendly message still comes last.
    assert result.err.rstrip().splitlines()[-1].startswith(
        f"error: step `read_orders` ({path}:6): unknown source type `csvv`")


@pytest.mark.parametrize("name", ["bad_indentation.yaml", "input_cycle.yaml"])
def test_validate_in_a_subprocess(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dteg.cli", "validate", f"tests/unit/broken/{name}"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"tests/unit/broken/{name}:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_several_mistakes_are_reported_together(cli, tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        "pipeline:\n"
        "  name: two\n"
        "  steps:\n"
        "    - extract:\n"
        "        type: csvv\n"
        "        config: {path: a.csv}\n"
        "    - load:\n"
        "        type: duckbd\n"
        "        config: {table: t}\n",
        encoding="utf-8",
    )
    result = cli("validate", str(path))
    assert result.code == 2
    assert "2 problems found:" in result.err
    assert f"step `extract` ({path}:5): unknown source type `csvv`" in result.err
    assert f"step `load` ({path}:8): unknown sink type `duckbd`. Did you mean `duckdb`?" \
        in result.err


def test_missing_pipeline_file(cli, tmp_path: Path) -> None:
    result = cli("validate", str(tmp_path / "nope.yaml"))
    assert result.code == 2
    assert f"no pipeline file at {tmp_path / 'nope.yaml'}" in result.err
    assert "Traceback" not in result.err
