"""How a failure reaches the user: typed errors (step, file:line) survive pickling and Beam's
re-raising, the CLI prints them as they render themselves with secrets hidden, `--debug` works
before or after the command, and anything unexpected is one paragraph without a traceback."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from dteg.errors import (
    ConfigError,
    ConnectorError,
    DtegError,
    Location,
    RunError,
    SpecError,
    StepError,
    find_error,
)

FAILING = """
pipeline:
  name: failing
  steps:
    - extract:
        type: csv
        config: {path: rows.csv}
    - validate:
        name: check_ids
        rules:
          - {type: range_check, column: id, max: 10, on_failure: fail}
    - load:
        type: parquet
        config: {path: out/rows.parquet}
"""
CHECK_LINE = 7  # the line of `- validate:` above


@pytest.fixture
def failing(write_pipeline, tmp_path: Path) -> Path:
    (tmp_path / "rows.csv").write_text("id,name\n1,a\n20,b\n", encoding="utf-8")
    return write_pipeline(FAILING)


# --- the errors themselves ------------------------------------------------------------------

WHERE = Location("pipeline.yaml", 14, 5)
ERRORS = [
    StepError("rule `positive` failed", step="mask_pii", hint="Fix the data.", location=WHERE),
    ConnectorError("connection refused", step="read_orders", retriable=True, location=WHERE),
    SpecError("unknown source type `csvv`", step="read_orders", location=WHERE),
    ConfigError("DB_PASSWORD is not set", step="load_pg", location=WHERE),
    RunError("the run failed", step="load_pg", location=WHERE),
]


@pytest.mark.parametrize("err", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_with_a_location_survive_pickling(err: DtegError) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert (back.step, back.location, back.hint, back.retriable) == (
        err.step, err.location, err.hint, err.retriable)
    assert back.render() == err.render() == str(back)
    assert back.render().startswith(f"step `{err.step}` (pipeline.yaml:14): ")


def test_a_location_attached_later_renders_and_survives_pickling() -> None:
    err = StepError("the data already has a `window_start` column", step="hourly",
                    hint="Rename or drop it before the window step.")
    assert err.render().startswith("step `hourly`: the data")
    assert err.with_location(WHERE) is err
    expected = ("step `hourly` (pipeline.yaml:14): the data already has a `window_start` "
                "column. Rename or drop it before the window step.")
    assert err.render() == str(err) == err.args[0] == expected
    assert pickle.loads(pickle.dumps(err)).render() == expected
    # A location already known is kept; a step can be attached too.
    assert err.with_location(Location("other.yaml", 1)).location == WHERE
    assert ConnectorError("boom").with_location(WHERE, step="sink").render() == (
        "step `sink` (pipeline.yaml:14): boom")


def test_errors_group_by_what_to_do() -> None:
    assert StepError("x").exit_code == 1 and not StepError("x").retriable
    assert ConnectorError("x", retriable=True).retriable
    assert SpecError("x").exit_code == ConfigError("x").exit_code == 2


def test_find_error_prefers_the_stage_error_over_beams_copy() -> None:
    original = StepError("rule failed", step="check_ids")
    # What Beam does with an error raised in a stage: a copy of the same type, built from the
    # text plus the stage label, raised from the original.
    copy = StepError(original.args[0] + " [while running 'failing/check_ids']")
    copy._tagged_with_step = True  # type: ignore[attr-defined]
    copy.__cause__ = original
    wrapper = RuntimeError("the pipeline failed")
    wrapper.__cause__ = copy
    assert find_error(wrapper) is original


# --- the command line -----------------------------------------------------------------------

def test_a_stage_error_renders_with_its_step_and_line(cli, failing: Path) -> None:
    result = cli("run", str(failing))
    assert result.code == 1
    assert result.err.startswith(
        f"error: step `check_ids` ({failing}:{CHECK_LINE}): rule `range_check` failed on 1 row")
    assert "Traceback" not in result.err and "while running" not in result.err


@pytest.mark.parametrize("args", [
    ("--debug", "run", "{path}"), ("run", "{path}", "--debug"),
], ids=["before the command", "after the command"])
def test_debug_in_either_position_shows_the_traceback(cli, failing: Path, args) -> None:
    result = cli(*(a.format(path=failing) for a in args))
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.err
    assert "dteg.errors.StepError" in result.err
    assert result.err.rstrip().splitlines()[-1].startswith("error: step `check_ids` (")


def test_dteg_debug_env_shows_the_traceback(cli, failing: Path, monkeypatch) -> None:
    monkeypatch.setenv("DTEG_DEBUG", "1")
    result = cli("validate", str(failing).replace("pipeline.yaml", "missing.yaml"))
    assert result.code == 2
    assert "Traceback (most recent call last)" in result.err


def test_debug_does_not_leak_into_the_next_call(cli, failing: Path) -> None:
    assert "Traceback" in cli("--debug", "run", str(failing)).err
    assert "Traceback" not in cli("run", str(failing)).err


def test_secrets_of_the_pipeline_are_redacted_from_errors(cli, write_pipeline, monkeypatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("DTEG_TEST_PASSWORD", "hunter2xyz")
    path = write_pipeline(FAILING.replace("rows.csv",
                                                 '"data/${env:DTEG_TEST_PASSWORD}-*.csv"'))
    result = cli("run", str(path))
    assert result.code == 2  # a missing input is an environment error, found before the run
    assert "no file matches" in result.err and "***" in result.err
    assert "hunter2xyz" not in result.text


def test_an_unexpected_error_is_one_paragraph_without_traceback(cli, failing: Path,
                                                                monkeypatch) -> None:
    import dteg.spec.phases

    def broken(path: Path) -> None:
        raise RuntimeError("Traceback from a worker:\n  File x.py\n"
                           "ValueError: the disk is on fire [while running 'failing/check_ids']")

    monkeypatch.setattr(dteg.spec.phases, "compile_spec", broken)
    result = cli("plan", str(failing))
    assert result.code == 1
    assert result.out == ""
    assert result.err == ("error: the run failed: ValueError: the disk is on fire. Run again "
                          "with --debug for the full traceback.\n")
