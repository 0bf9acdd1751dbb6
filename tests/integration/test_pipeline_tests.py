"""`dteg test pipeline.yaml` in a subprocess: the pipeline's own `tests:` block runs offline
on the embedded runner with the real stages, and a failure prints a readable diff."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from dteg.testing import assert_pipeline_tests_pass, run_pipeline_tests
from tests.integration.conftest import PIPELINES, REPO

WITH_TESTS = sorted(p for p in PIPELINES.glob("*.yaml")
                    if "tests" in (yaml.safe_load(p.read_text(encoding="utf-8")) or {}))


def dteg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DTEG_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "dteg.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def write(folder: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_some_examples_have_tests() -> None:
    assert {"quickstart", "parquet_orders", "jsonl_events"} <= {p.stem for p in WITH_TESTS}


@pytest.mark.parametrize("pipeline", WITH_TESTS, ids=lambda p: p.stem)
def test_every_example_with_tests_passes_them(pipeline: Path, workdir: Path) -> None:
    result = dteg("test", str(workdir / pipeline.name), cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout and "FAIL" not in result.stdout
    # Offline: nothing was written beside the pipeline (no warehouse, no dead letters).
    assert not (workdir / ".dteg").exists()
    assert not (workdir / "out").exists()


# The source is a PostgreSQL server nobody runs (port 9 of 127.0.0.1, closed), the load a
# Postgres table there and the dead letters a DuckDB file: a test reaches none of them.
OFFLINE = """
pipeline:
  name: offline
  security:
    access_level: restricted
    data_masking:
      name: tokenize
    masking_key: ${env:MASKING_KEY}
    encryption: [email]
    encryption_key: ${env:ENCRYPTION_KEY}
  quality:
    validation_rules:
      - type: null_check
        columns: [id, email]
      - type: unique
        column: id
  dead_letter:
    type: duckdb
    config: {database: dead.duckdb, table: dead}
  steps:
    - extract:
        type: postgres
        config:
          url: postgresql://dteg:${env:PG_PASSWORD}@127.0.0.1:9/nowhere
          table: customers
    - map:
        columns: {email_domain: "split_part(email, '@', 2)"}
    - load:
        type: postgres
        config:
          url: postgresql://dteg:${env:PG_PASSWORD}@127.0.0.1:9/nowhere
          table: customers_out
tests:
  - name: customers are tokenized and encrypted, duplicates dead-lettered
    env:
      MASKING_KEY: test-masking-key-0123
      ENCRYPTION_KEY: test-encryption-key-0123456789
      PG_PASSWORD: s3cret-pw
    inputs:
      extract:
        rows:
          - {id: 1, name: Kim Minji, email: minji@example.com}
          - {id: 2, name: Lee Jun, email: jun@example.co.kr}
          - {id: 2, name: Copy, email: copy@example.com}
          - {id: 3, name: No Mail, email: null}
    expect:
      load:
        key: id
        ignore_columns: [name, email]
        # The map runs after the policy steps: it sees the encrypted email (no `@`).
        rows:
          - {id: 1, email_domain: ""}
          - {id: 2, email_domain: ""}
    dead_letter:
      count: 2
      contains:
        - {rule: null_check, column: email, record: {id: 3}}
        - {rule: unique, record: {id: 2}}
"""


def test_real_stages_run_and_no_connection_is_opened(tmp_path: Path) -> None:
    # Expect the raw values: the diff then shows what the real mask and encrypt stages made.
    path = write(tmp_path, OFFLINE.replace("ignore_columns: [name, email]", "ignore_columns: []")
                 .replace('{id: 1, email_domain: ""}',
                          '{id: 1, name: Kim Minji, email: minji@example.com, email_domain: ""}'))
    with socket.socket() as probe:  # the port the pipeline names is closed
        assert probe.connect_ex(("127.0.0.1", 9)) != 0
    report = run_pipeline_tests(path)
    (outcome,) = report.outcomes
    assert outcome.rows_in == 4 and outcome.loaded == {"load": 2}
    assert outcome.dead_letters == 2
    text = report.render()
    assert not outcome.passed
    changed = [line for line in text.splitlines() if line.strip().startswith("id=1:")]
    assert len(changed) == 2, text
    assert all("expected" in c and "got" in c for c in changed)
    name_cell = next(c for c in changed if "name:" in c)
    email_cell = next(c for c in changed if "email:" in c)
    assert "Kim Minji" not in name_cell.split("got", 1)[1]  # tokenized
    assert "minji@example.com" not in email_cell.split("got", 1)[1]  # encrypted
    assert "s3cret-pw" not in text
    assert not list(tmp_path.glob("*.duckdb")) and not (tmp_path / ".dteg").exists()


def test_a_passing_file(tmp_path: Path) -> None:
    path = write(tmp_path, OFFLINE)
    result = dteg("test", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("PASS  customers are tokenized and encrypted")
    assert "4 rows in → load 2; 2 dead letters" in result.stdout
    assert "1 passed, 0 failed" in result.stdout


def test_a_failing_file_prints_the_diff_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pipeline:
          name: failing
          steps:
            - extract: {type: csv, config: {path: missing.csv}}
            - filter: {where: "amount > 0"}
            - map:
                columns: {cents: "CAST(amount * 100 AS BIGINT)"}
            - load: {type: duckdb, config: {table: t}}
        tests:
          - name: positive amounts pass
            inputs:
              extract:
                rows:
                  - {id: 1, amount: 1.5}
                  - {id: 2, amount: 0}
                  - {id: 3, amount: 2}
            expect:
              load:
                key: id
                rows:
                  - {id: 1, amount: 1.5, cents: 150}
                  - {id: 2, amount: 0, cents: 0}
                  - {id: 3, amount: 2, cents: 999}
          - name: the count is right
            inputs:
              extract: {rows: [{id: 1, amount: 1.5}]}
            expect:
              load: {count: 1}
        """)
    result = dteg("test", str(path), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "FAIL  positive amounts pass  (3 rows in → load 2; 0 dead letters)" in out
    assert "load `load` (received 2 rows):" in out
    assert "missing (expected, not received): 1 row" in out
    assert "- {id: 2, amount: 0, cents: 0}" in out
    assert "id=3: cents: expected 999, got 200" in out
    assert "PASS  the count is right" in out
    assert out.rstrip().endswith("1 passed, 1 failed")
    assert "Traceback" not in result.stderr
    # --test picks one test.
    only = dteg("test", str(path), "--test", "the count is right", cwd=tmp_path)
    assert only.returncode == 0 and "positive amounts" not in only.stdout


def test_a_run_error_fails_the_test_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pipeline:
          name: gate
          quality:
            max_invalid_ratio: 0.1
            validation_rules:
              - {type: null_check, columns: [id]}
          steps:
            - extract: {type: csv, config: {path: missing.csv}}
            - load: {type: duckdb, config: {table: t}}
        tests:
          - name: too many bad rows stop the load
            inputs: {extract: {rows: [{id: 1}, {id: null}]}}
            error: max_invalid_ratio
          - name: not expected to fail
            inputs: {extract: {rows: [{id: 1}, {id: null}]}}
            expect: {load: {count: 1}}
        """)
    result = dteg("test", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "PASS  too many bad rows stop the load" in result.stdout
    assert "FAIL  not expected to fail" in result.stdout
    assert "error: " in result.stdout and "max_invalid_ratio" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    debug = dteg("test", str(path), "--debug", cwd=tmp_path)
    assert "Traceback" in debug.stderr and debug.returncode == 1


def test_a_bad_test_spec_is_one_paragraph_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pipeline:
          name: bad
          steps:
            - extract: {type: csv, config: {path: missing.csv}}
            - load: {type: duckdb, config: {table: t}}
        tests:
          - name: t
            inputs:
              extract: {rowz: [{id: 1}]}
            expect: {load: {count: 1}}
        """)
    result = dteg("test", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    err = result.stderr.strip()
    assert err.startswith(f"error: {path}:9")
    assert "rowz" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_a_missing_fixture_and_a_missing_env_are_spec_errors(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pipeline:
          name: env
          steps:
            - extract: {type: csv, config: {path: "${env:INPUT}"}}
            - load: {type: duckdb, config: {table: t}}
        tests:
          - name: t
            inputs: {extract: {path: fixtures/none.csv}}
            expect: {load: {count: 1}}
        """)
    result = dteg("test", str(path), cwd=tmp_path)
    assert result.returncode == 2 and "`INPUT` is not set" in result.stderr
    assert "test `t`" in result.stderr and "the test's `env:`" in result.stderr
    assert f"{path}:4" in result.stderr
    path.write_text(path.read_text().replace("  - name: t\n", "  - name: t\n    env: {INPUT: "
                                             "x.csv}\n"))
    result = dteg("test", str(path), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no fixture file at" in result.stderr and f"{path}:9" in result.stderr


def test_a_name_that_is_not_a_yaml_file_goes_to_component_tests(tmp_path: Path) -> None:
    result = dteg("test", "my-connector", cwd=tmp_path)
    if importlib.util.find_spec("dteg.cli.component_test_cmd") is None:
        assert result.returncode == 2
        assert "component tests are not available" in result.stderr
        assert "Traceback" not in result.stderr
    else:  # pragma: no cover - once the component tests are merged
        assert "passed, " not in result.stdout  # not the pipeline tests' report


def test_windows_and_aggregates_run_in_a_test(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pipeline:
          name: windows
          steps:
            - extract:
                type: kafka
                config: {bootstrap_servers: "127.0.0.1:9", topic: clicks, group_id: g}
            - window: {type: fixed, size: 1m, event_time: at}
            - aggregate:
                group_by: [country]
                metrics: {clicks: count, revenue: sum(amount)}
            - load: {type: duckdb, config: {table: t}}
        tests:
          - name: clicks are counted per minute and country
            inputs:
              extract:
                path: clicks.jsonl
            expect:
              load:
                key: [window_start, country]
                ignore_columns: [window_end]
                rows:
                  - {window_start: 2026-12-01T10:00:00Z, country: KR, clicks: 2, revenue: 3.5}
                  - {window_start: 2026-12-01T10:01:00Z, country: KR, clicks: 1, revenue: 1.0}
                  - {window_start: 2026-12-01T10:00:00Z, country: US, clicks: 1, revenue: 2.0}
        """)
    (tmp_path / "clicks.jsonl").write_text(
        '{"country": "KR", "amount": 1.5, "at": "2026-12-01T10:00:05+00:00"}\n'
        '{"country": "KR", "amount": 2.0, "at": "2026-12-01T10:00:50+00:00"}\n'
        '{"country": "US", "amount": 2.0, "at": "2026-12-01T10:00:30+00:00"}\n'
        '{"country": "KR", "amount": 1.0, "at": "2026-12-01T10:01:10+00:00"}\n')
    report = run_pipeline_tests(path)
    assert report.passed, report.render()
    assert_pipeline_tests_pass(path)


def test_assert_pipeline_tests_pass_raises_with_the_diff(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pipeline:
          name: lib
          steps:
            - extract: {type: csv, config: {path: none.csv}}
            - load: {type: duckdb, config: {table: t}}
        tests:
          - name: wrong
            inputs: {extract: {rows: [{id: 1}]}}
            expect: {load: {rows: [{id: 2}]}}
        """)
    with pytest.raises(AssertionError, match=r"(?s)FAIL  wrong.*- \{id: 2\}.*- \{id: 1\}"):
        assert_pipeline_tests_pass(path)
