"""`${env:…}` and `${file:…}` references: resolved for the run, never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dteg.errors import SpecError
from dteg.spec.interpolate import interpolate, raw_step_name
from dteg.spec.loader import load_yaml_text

TEXT = """\
pipeline:
  name: p
  steps:
    - extract:
        name: src
        type: postgres
        config:
          host: ${env:PG_HOST}
          port: ${env:PG_PORT:-5432}
          url: postgres://app:${env:DB_PASSWORD}@${env:PG_HOST}/db
          password: ${file:secrets/pg.txt}
          note: plain text
          tables: [a, "${env:PG_SCHEMA:-public}.b"]
"""


def _run(environ: dict[str, str], base_dir: Path, text: str = TEXT):  # type: ignore[no-untyped-def]
    doc = load_yaml_text(text, "p.yaml")
    return interpolate(doc.data, doc.source_map, base_dir=base_dir, environ=environ)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pg.txt").write_text("file-s3cret\n", encoding="utf-8")
    return tmp_path


def test_env_file_and_defaults(base: Path) -> None:
    result = _run({"PG_HOST": "db.local", "DB_PASSWORD": "hunter2!"}, base)
    config = result.data["pipeline"]["steps"][0]["extract"]["config"]
    assert config == {
        "host": "db.local",
        "port": "5432",  # the default, as text
        "url": "postgres://app:hunter2!@db.local/db",
        "password": "file-s3cret",  # trailing newline dropped; relative to the pipeline folder
        "note": "plain text",
        "tables": ["a", "public.b"],
    }


def test_a_set_variable_wins_over_its_default(base: Path) -> None:
    result = _run({"PG_HOST": "h", "DB_PASSWORD": "x" * 8, "PG_PORT": "6543",
                   "PG_SCHEMA": "sales"}, base)
    config = result.data["pipeline"]["steps"][0]["extract"]["config"]
    assert config["port"] == "6543"
    assert config["tables"][1] == "sales.b"


def test_an_empty_default_is_allowed(base: Path) -> None:
    text = "pipeline:\n  name: p\n  description: '${env:DESC:-}'\n"
    assert _run({}, base, text).data["pipeline"]["description"] == ""


def test_references_and_redactor(base: Path) -> None:
    result = _run({"PG_HOST": "db.local", "DB_PASSWORD": "hunter2!"}, base)
    prefix = ("pipeline", "steps", 0, "extract", "config")
    assert result.references[(*prefix, "url")] == \
        "postgres://app:${env:DB_PASSWORD}@${env:PG_HOST}/db"
    assert result.references[(*prefix, "tables", 1)] == "${env:PG_SCHEMA:-public}.b"
    assert (*prefix, "note") not in result.references
    # Secret-looking names and every file are redacted; a host name is not a secret.
    assert result.redactor.values == {"hunter2!", "file-s3cret"}
    assert result.redactor("pw hunter2! and file-s3cret on db.local") == \
        "pw *** and *** on db.local"


def test_file_path_absolute_and_home(tmp_path: Path) -> None:
    secret = tmp_path / "abs.txt"
    secret.write_text("abs-value", encoding="utf-8")
    text = f"pipeline:\n  name: p\n  description: ${{file:{secret}}}\n"
    result = _run({}, Path("/elsewhere"), text)
    assert result.data["pipeline"]["description"] == "abs-value"


def test_missing_env_names_the_step_and_line(base: Path) -> None:
    with pytest.raises(SpecError) as info:
        _run({"DB_PASSWORD": "hunter2!"}, base)
    err = info.value
    assert err.message == "the environment variable `PG_HOST` is not set"
    assert err.step == "src"
    assert err.location is not None and err.location.line == 8
    assert "`${env:PG_HOST:-value}`" in (err.hint or "")


def test_missing_file_is_resolved_from_the_pipeline_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        _run({"PG_HOST": "h", "DB_PASSWORD": "hunter2!"}, tmp_path)
    assert f"({tmp_path / 'secrets' / 'pg.txt'})" in info.value.message
    assert info.value.location is not None and info.value.location.line == 11


def test_unknown_provider(base: Path) -> None:
    text = "pipeline:\n  name: p\n  description: ${vault:kv/db}\n"
    with pytest.raises(SpecError, match="unknown reference provider `vault`") as info:
        _run({}, base, text)
    assert info.value.location is not None and info.value.location.line == 3


def test_raw_step_name_matches_normalize_defaults() -> None:
    data = {"pipeline": {"steps": [
        {"extract": {"type": "csv"}}, {"load": {"type": "csv"}}, {"load": {"name": "wh"}},
        {"load": {}},
    ]}}
    assert raw_step_name(data, ("pipeline", "steps", 0, "extract", "config")) == "extract"
    assert raw_step_name(data, ("pipeline", "steps", 1, "load")) == "load_1"
    assert raw_step_name(data, ("pipeline", "steps", 2, "load")) == "wh"
    assert raw_step_name(data, ("pipeline", "steps", 3)) == "load_3"
    assert raw_step_name(data, ("pipeline", "security", "masking_key")) is None
    assert raw_step_name(data, ("pipeline", "steps", 9)) is None


# --- secrets through the CLI ----------------------------------------------------------------

SECRET = "Sup3r-Secret-Pw"


def test_secret_never_appears_in_plan(cli, write_pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    path = write_pipeline("""
        pipeline:
          name: p
          security:
            data_masking: [email]
            masking_key: ${env:DB_PASSWORD}
          steps:
            - extract:
                type: csv
                config:
                  path: data/${env:DB_PASSWORD}/a.csv
            - load:
                type: duckdb
                config: {table: t}
    """)
    for fmt in ("text", "json", "mermaid", "dot"):
        result = cli("plan", str(path), "--format", fmt)
        assert result.code == 0, result.text
        assert SECRET not in result.text
    text = cli("plan", str(path)).out
    assert 'key: "${env:DB_PASSWORD}"' in text
    assert 'path: "data/${env:DB_PASSWORD}/a.csv"' in text


@pytest.mark.parametrize(("config", "phrase"), [
    ("batch_rows: ${env:DB_PASSWORD}", "`batch_rows` must be a whole number, not '***'"),
    ("compression: ${env:DB_PASSWORD}", "`compression` is '***', which is not allowed"),
    ("delimiter: ${env:DB_PASSWORD}", "`delimiter`: String should have at most 1 character"),
])
def test_secret_never_appears_in_errors(cli, write_pipeline, monkeypatch: pytest.MonkeyPatch,
                                        config: str, phrase: str) -> None:
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    path = write_pipeline(f"""
        pipeline:
          name: p
          steps:
            - extract:
                type: csv
                config:
                  path: a.csv
                  {config}
            - load:
                type: duckdb
                config: {{table: t}}
    """)
    result = cli("validate", str(path))
    assert result.code == 2
    assert f"{path}:8" in result.err
    assert phrase in result.err
    assert SECRET not in result.text
