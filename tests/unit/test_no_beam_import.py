"""`dteg validate`, `dteg plan` (and the other commands that do not run a pipeline) must not
import Apache Beam: it costs about a second and they must stay fast. Checked in a fresh
interpreter, since the test process may have imported Beam already."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ._helpers import BROKEN, REPO

PROBE = """
import sys
from dteg.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
beam = sorted(m for m in sys.modules if m == "apache_beam" or m.startswith("apache_beam."))
print("EXIT", code, "BEAM", len(beam), file=sys.stderr)
"""


@pytest.mark.parametrize(("args", "code"), [
    (["validate", "pipelines/quickstart.yaml"], 0),
    (["validate", "pipelines/seed_example.yaml"], 0),
    (["plan", "pipelines/quickstart.yaml"], 0),
    (["plan", "pipelines/quickstart.yaml", "--format", "json"], 0),
    (["plan", "pipelines/seed_example.yaml", "--format", "mermaid"], 0),
    (["validate", str(BROKEN / "source_type_typo.yaml")], 2),
    (["run", "pipelines/seed_example.yaml"], 2),  # refused before anything runs
    (["schema"], 0),
    (["connectors", "list"], 0),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_command_does_not_import_beam(args: list[str], code: int) -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"EXIT {code} BEAM 0", proc.stderr


def test_importtime_of_validate_has_no_beam() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE, "validate",
         "pipelines/quickstart.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    imported = [line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")]
    assert "dteg.spec.phases" in imported  # the probe really ran the command
    assert not [m for m in imported if m.startswith("apache_beam")]


def test_validate_does_not_import_pyarrow() -> None:
    """Checking settings needs no Arrow: pyarrow and numpy cost more than the rest of
    `dteg validate` together on a busy machine."""
    probe = PROBE + (
        "\nheavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'numpy'))"
        "\nprint('HEAVY', heavy, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe, "validate", "pipelines/quickstart.yaml"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.stderr.strip().splitlines()[-1] == "HEAVY []", proc.stderr
