"""What a command line costs before it does anything: ``import dteg.cli`` and a small bounded
``dteg run`` must not load Beam, cloud clients, pandas or the web server (issue 21: the fixed
cost of a run). Checked on ``sys.modules`` of a fresh interpreter, never on time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from ._helpers import REPO

# Top-level modules (and google.cloud.* clients) that no start-up may load.
HEAVY = ("apache_beam", "boto3", "botocore", "pandas", "fastapi", "starlette", "uvicorn",
         "celery", "vertexai", "googleapiclient", "google.auth", "google.api_core")

PROBE = """
import json, sys
HEAVY = {heavy!r}
def loaded():
    return sorted(m for m in sys.modules if m.startswith("google.cloud.") or any(
        m == h or m.startswith(h + ".") for h in HEAVY))
{body}
print("LOADED " + json.dumps(loaded()), file=sys.stderr)
"""


def _loaded(body: str, cwd: Path = REPO) -> list[str]:
    # This tree first, whatever the working directory (a relative PYTHONPATH would not be).
    path = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, body=body)],
                          cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": path})
    lines = [line for line in proc.stderr.splitlines() if line.startswith("LOADED ")]
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("LOADED "))


def test_importing_the_cli_loads_nothing_heavy() -> None:
    assert _loaded("import dteg.cli\nimport dteg") == []


SMALL_RUN = """
from dteg.cli import main
try:
    main(["run", {pipeline!r}, "-q"])
except SystemExit as exc:
    assert not exc.code, exc.code
"""


def test_a_small_bounded_run_needs_no_beam(tmp_path: Path) -> None:
    rows = ["id,email,amount"] + [f"{i},user{i}@example.com,{i}.5" for i in range(1, 201)]
    rows.append("201,not-an-email,1")
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "pipeline:\n  name: small\n  steps:\n"
        "    - extract: {type: csv, config: {path: in.csv}}\n"
        "    - validate:\n        rules:\n"
        "          - {type: format_check, column: email, pattern: '^[^@]+@[^@]+$'}\n"
        "    - mask: {columns: {email: hash}, key: k}\n"
        "    - load: {type: parquet, config: {path: out.parquet}}\n")
    assert _loaded(SMALL_RUN.format(pipeline=str(pipeline)), cwd=tmp_path) == []
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 200
    assert table.column("email")[0].as_py() != "user1@example.com"
    dead = list((tmp_path / ".dteg" / "dead_letter").rglob("*.jsonl"))
    assert sum(len(p.read_text().splitlines()) for p in dead) == 1
