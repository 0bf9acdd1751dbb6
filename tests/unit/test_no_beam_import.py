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


# What `dteg validate` must not import: what only a run needs (Beam, Arrow, the run, Beam and
# runner layers, streaming, lineage, profiles), the orchestrator and its store, DuckDB's library
# (a DuckDB sink's settings are checked without it; only filter/map SQL is parsed with it), and
# the modules of the other commands. pyarrow and numpy alone cost more than the rest of
# validate together on a busy machine.
NOT_FOR_VALIDATE = (
    "apache_beam", "pyarrow", "numpy", "duckdb", "sqlalchemy", "alembic", "celery",
    "dteg.run", "dteg.beam", "dteg.runners", "dteg.streaming", "dteg.governance",
    "dteg.quality", "dteg.orchestrator",
    "dteg.cli.run_cmds", "dteg.cli.runs_cmds", "dteg.cli.state_cmds", "dteg.cli.dbt_cmds",
    "dteg.cli.connectors_cmds", "dteg.cli.profile_cmd", "dteg.cli.runners_cmd",
)
MODULES_PROBE = PROBE + "\nprint('MODULES', *sorted(sys.modules), file=sys.stderr)\n"


def _modules_of(*args: str) -> set[str]:
    """The modules a fresh interpreter holds after ``dteg <args>`` (which must succeed)."""
    proc = subprocess.run([sys.executable, "-c", MODULES_PROBE, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    *_, exit_line, modules = proc.stderr.strip().splitlines()
    assert exit_line == "EXIT 0 BEAM 0", proc.stderr
    return set(modules.split()[1:])


def _under(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


@pytest.mark.parametrize("args", [
    ["validate", "pipelines/quickstart.yaml"],
    ["plan", "pipelines/quickstart.yaml"],
], ids=" ".join)
def test_validate_imports_nothing_a_run_needs(args: list[str]) -> None:
    modules = _modules_of(*args)
    assert "dteg.spec.phases" in modules  # the probe really ran the command
    assert [m for p in NOT_FOR_VALIDATE for m in _under(modules, p)] == []


def test_validate_imports_the_settings_of_the_components_it_uses_only() -> None:
    """The quickstart reads CSV, loads DuckDB and runs dbt; its policies validate and mask, and
    rejected rows go to the default JSON Lines dead-letter sink. The registry names each
    component's settings by module, so only those settings modules are imported (plus the
    bases the file connectors share), not every connector's."""
    modules = _modules_of("validate", "pipelines/quickstart.yaml")
    connectors = set(_under(modules, "dteg.connectors")) - {"dteg.connectors"}
    shared = {"file_config", "load_strategy", "object_store", "store_options", "retry"}
    assert connectors == {f"dteg.connectors.{m}" for m in (
        *shared, "csv", "csv.config", "duckdb", "duckdb.config", "jsonl", "jsonl.config")}
    transforms = set(_under(modules, "dteg.transforms")) - {"dteg.transforms"}
    assert transforms == {f"dteg.transforms.{m}" for m in (
        "validate_config", "mask_config", "dbt_config")}
