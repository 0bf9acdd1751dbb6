"""The seed's YAML example is a commitment: it validates as written, and `dteg run` refuses it
(before importing Beam) by naming what is not installed or not available yet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from ._helpers import REPO

SEED = REPO / "pipelines" / "seed_example.yaml"
SEED_TEXT = (REPO.parent / "shared" / "seed" / "000_3a84e74480f32c21.txt")


def test_file_is_the_seed_example_as_written() -> None:
    text = SEED.read_text(encoding="utf-8")
    assert '  schedule: "0 12 * * *"  # 매일 12시에 실행\n' in text
    assert text.startswith('pipeline:\n  name: "example_elt"\n')
    if SEED_TEXT.exists():  # the design folder is beside the repo in this workspace
        seed = SEED_TEXT.read_text(encoding="utf-8")
        block = re.search(r"YAML 기반 설정 파일 예시.*?```yaml\n(.*?)```", seed, re.S)
        assert block is not None
        assert text == block.group(1)


def test_validate_accepts_it_with_warnings(cli, monkeypatch) -> None:
    monkeypatch.delenv("DTEG_ENCRYPTION_KEY", raising=False)
    result = cli("validate", str(SEED))
    assert result.code == 0, result.text
    # `encryption: true` encrypts the data_masking columns (instead of masking them).
    assert f"ok: {SEED} is valid (5 steps: extract, validate, encrypt, load, transform)" \
        in result.out
    err = result.err
    # dteg://streaming/kafka is the built-in Kafka source; the Salesforce loader is not built in.
    assert "kafka-extractor" not in err
    assert f"step `load` ({SEED}:33): component `dteg://salesforce-loader`" in err
    # The message names the exact line that installs the pinned version.
    assert "Install it with `dteg install marketplace://salesforce-loader@2.1.0`" in err
    assert f"{SEED}:15: `security.encryption` needs a key, but none is set: export " \
        "DTEG_ENCRYPTION_KEY" in err
    assert all(line.startswith("warning: ") for line in err.splitlines())


def test_plan_shows_policy_steps_in_order(cli) -> None:
    result = cli("plan", str(SEED), "--format", "json")
    assert result.code == 0, result.text
    plan = json.loads(result.out)
    steps = {s["name"]: s for s in plan["steps"]}
    assert [s["name"] for s in plan["steps"]] == ["extract", "validate", "encrypt", "load",
                                                  "transform", "dead_letter"]
    assert steps["validate"]["inputs"] == ["extract"]
    assert steps["encrypt"]["inputs"] == ["validate"]
    assert steps["load"]["inputs"] == ["encrypt"]
    assert steps["extract"]["component"] == "kafka"  # dteg://kafka-extractor: built in
    assert steps["transform"]["component"] == "dbt"
    # The masked columns are encrypted instead; the key comes from DTEG_ENCRYPTION_KEY.
    assert steps["encrypt"]["config"] == {"columns": ["email", "phone"], "key_id": "k1"}
    assert steps["encrypt"]["generated_from"] == "pipeline.security.encryption"
    assert plan["schedule"] == "0 12 * * *"


def test_run_refuses_and_lists_unresolved_components() -> None:
    code = (
        "import sys\n"
        "from dteg.cli import main\n"
        "try:\n"
        f"    main(['run', {str(SEED)!r}])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "else:\n"
        "    code = 0\n"
        "print('BEAM' if 'apache_beam' in sys.modules else 'NOBEAM', code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DTEG_ENCRYPTION_KEY"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.stdout.strip().splitlines()[-1] == "NOBEAM 2", proc.stderr
    err = proc.stderr
    assert "error: this pipeline cannot run yet:" in err
    blockers = err.split("error: this pipeline cannot run yet:", 1)[1]
    assert "kafka-extractor" not in blockers  # resolves to the built-in Kafka source
    assert "component `dteg://salesforce-loader`" in blockers
    assert f"{SEED}:15: `security.encryption` needs a key" in blockers
    assert "Traceback" not in err
