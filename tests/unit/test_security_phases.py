"""How `security.encryption` becomes an encrypt step, what blocks a run, and that no key shows
in `dteg plan`."""

from __future__ import annotations

import json

import pytest

from dteg.errors import SpecError
from dteg.spec.phases import compile_spec, insert_policy_steps, normalize_steps, run_blockers

from ._helpers import shape


def _steps(text: str, **kw):
    spec = insert_policy_steps(normalize_steps(shape(text, **kw)))
    return spec, {s.name: s for s in spec.steps}


BASE = """
    pipeline:
      name: p
      security:
{security}
      steps:
        - extract: {{type: csv, config: {{path: a.csv}}}}
        - load: {{type: duckdb, config: {{table: t}}}}
"""


def _security(lines: str) -> str:
    return BASE.format(security="\n".join(" " * 8 + line for line in lines.splitlines()))


def test_encryption_true_encrypts_the_masked_columns_instead_of_masking_them() -> None:
    spec, steps = _steps(_security("""\
data_masking: {email: hash, phone: partial, name: redact}
encryption: true
encrypt_columns: [email, ssn]
masking_key: mk-0123456789abcdef
encryption_key: ek-0123456789abcdef
encryption_key_id: k2026"""))
    assert [s.name for s in spec.steps] == ["extract", "mask", "encrypt", "load"]
    assert steps["mask"].config == {"columns": {"phone": "partial", "name": "redact"},
                                    "key": "mk-0123456789abcdef"}
    assert steps["encrypt"].config == {"columns": ["email", "ssn"],
                                       "key": "ek-0123456789abcdef", "key_id": "k2026"}
    assert steps["encrypt"].inputs == ("mask",) and steps["load"].inputs == ("encrypt",)
    assert steps["encrypt"].generated_from == "pipeline.security.encryption"
    assert steps["encrypt"].config_paths["columns"] == ("pipeline", "security",
                                                        "encrypt_columns")


def test_encryption_true_alone_covers_data_masking() -> None:
    _, steps = _steps(_security("data_masking: [email, phone]\nencryption: true"))
    assert "mask" not in steps
    assert steps["encrypt"].config == {"columns": ["email", "phone"], "key_id": "k1"}


def test_encryption_list_and_keyring() -> None:
    _, steps = _steps(_security("""\
data_masking: [email]
encryption: [ssn]
keys:
  - {id: new, env: NEW_KEY}
  - {id: old, file: old.key}"""))
    assert steps["mask"].config == {"columns": ["email"]}
    assert steps["encrypt"].config == {"columns": ["ssn"], "keys": [
        {"id": "new", "env": "NEW_KEY"}, {"id": "old", "file": "old.key"}]}


def test_a_bad_keyring_is_a_located_spec_error(tmp_path) -> None:
    text = _security("encryption: [ssn]\nkeys:\n  - {id: a, env: X, file: y}")
    with pytest.raises(SpecError) as info:
        compile_spec(tmp_path / "p.yaml", text=text.replace("\n    ", "\n"), environ={})
    assert "exactly one of key, env, file, vault, transit" in str(info.value)
    assert info.value.location is not None and info.value.location.line == 7  # the item


def test_run_blockers_for_keys_and_empty_encryption() -> None:
    spec = compile_spec("p.yaml", text=_security("data_masking: [email]\nencryption: true")
                        .replace("\n    ", "\n"), environ={})
    (blocker,) = run_blockers(spec, environ={})
    assert blocker.startswith("p.yaml:6: `security.encryption` needs a key, but none is set: "
                              "export DTEG_ENCRYPTION_KEY")
    assert run_blockers(spec, environ={"DTEG_ENCRYPTION_KEY": "x" * 16}) == []
    spec = compile_spec("p.yaml", text=_security("encryption: true\nencryption_key: kkkkkkkk"
                                                 "kkkkkkkk").replace("\n    ", "\n"),
                        environ={})
    (blocker,) = run_blockers(spec, environ={})
    assert "names no columns to encrypt" in blocker


def test_explicit_decrypt_step_without_key_is_blocked(tmp_path) -> None:
    spec = compile_spec(tmp_path / "p.yaml", environ={}, text="""
pipeline:
  name: p
  steps:
    - extract: {type: parquet, config: {path: a.parquet}}
    - decrypt: {columns: [email]}
    - load: {type: duckdb, config: {table: t}}
""")
    (blocker,) = run_blockers(spec, environ={})
    assert blocker.startswith(f"step `decrypt` ({tmp_path / 'p.yaml'}:6) needs a key")


def test_plan_never_shows_keys(cli, write_pipeline, monkeypatch) -> None:
    monkeypatch.setenv("SOME_TOKEN", "vault-token-abcdef")
    path = write_pipeline("""
        pipeline:
          name: p
          security:
            data_masking: {name: tokenize}
            masking_key: literal-masking-key-1
            encryption: [ssn]
            keys:
              - {id: a, key: literal-encryption-key-2}
              - {id: b, vault: {url: "http://127.0.0.1:1", path: k, token: "${env:SOME_TOKEN}"}}
              - {id: c, transit: {url: "http://127.0.0.1:1", key_name: t, token: literal-tok3}}
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - decrypt: {columns: [ssn], key: literal-decrypt-key-4}
            - load: {type: duckdb, config: {table: t}}
    """)
    for fmt in ("text", "json"):
        result = cli("plan", str(path), "--format", fmt)
        assert result.code == 0, result.text
        for secret in ("literal-masking-key-1", "literal-encryption-key-2", "vault-token-abcdef",
                       "literal-tok3", "literal-decrypt-key-4"):
            assert secret not in result.text, (fmt, secret)
    plan = json.loads(cli("plan", str(path), "--format", "json").out)
    encrypt = next(s for s in plan["steps"] if s["name"] == "encrypt")
    assert encrypt["config"]["keys"][0] == {"id": "a", "key": "***"}
    assert encrypt["config"]["keys"][1]["vault"]["token"] == "${env:SOME_TOKEN}"
