"""The Amundsen export, run with the real amundsen-databuilder library (in its own venv,
made by scripts/amundsen/setup-venv from PyPI): databuilder's models go through its
FsNeo4jCSVLoader into node and relationship CSVs — tables, columns with PII notes, owners,
watermarks and lineage. Not run against a live Amundsen (no Neo4j/Amundsen here)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

from dteg.cli import main
from tests.integration.service_guard import service_unavailable

REPO = Path(__file__).resolve().parents[3]


def _databuilder_python() -> str:
    try:
        out = subprocess.run([str(REPO / "scripts" / "amundsen" / "setup-venv")], check=True,
                             capture_output=True, text=True, timeout=1800)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        service_unavailable(f"amundsen-databuilder's venv could not be made: "
                            f"{str(getattr(exc, 'stderr', '') or exc)[-600:]}")
    return out.stdout.strip().splitlines()[-1]


def _rows(folder: Path, prefix: str) -> list[dict[str, str]]:
    found = []
    for path in sorted(folder.glob(f"{prefix}_*.csv")):
        with path.open(newline="") as fh:
            found += list(csv.DictReader(fh))
    return found


def test_the_catalog_loads_with_databuilders_own_loader(tmp_path: Path, capsys) -> None:
    from tests.integration.conftest import PIPELINES

    python = _databuilder_python()
    workdir = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, workdir, ignore=shutil.ignore_patterns(".dteg", "out"))
    for name in ("secure_customers", "secure_customers_read"):
        try:
            main(["run", str(workdir / f"{name}.yaml")])
        except SystemExit as exc:
            assert not exc.code
    export = tmp_path / "catalog.json"
    try:
        main(["catalog", "export", str(workdir), "--output", str(export)])
    except SystemExit as exc:
        assert not exc.code
    tables = {t["dteg_key"]: t for t in json.loads(export.read_text())["tables"]}
    secure = tables[f"file::{workdir / 'out' / 'secure_customers.parquet'}"]
    out = tmp_path / "amundsen"
    job = subprocess.run([python, str(REPO / "scripts" / "amundsen" / "databuilder_job.py"),
                          str(export), str(out)], capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stderr[-2000:]
    nodes, rels = out / "nodes", out / "relationships"
    table_keys = {r["KEY"] for r in _rows(nodes, "Table")}
    assert {t["key"] for t in tables.values()} == table_keys
    columns = {r["KEY"] for r in _rows(nodes, "Column")}
    assert f"{secure['key']}/email" in columns
    descriptions = {r["KEY"]: r["description"] for r in _rows(nodes, "Description")}
    assert descriptions[f"{secure['key']}/email/_description"] == (
        "personal data: email; protected: encrypted")
    owners = {r["KEY"] for r in _rows(nodes, "User")}
    assert "crm-team@example.com" in owners
    watermarks = _rows(nodes, "Watermark")
    assert any(w["KEY"].startswith(secure["key"]) for w in watermarks)
    lineage = {(r["START_KEY"], r["END_KEY"]) for r in _rows(rels, "Table_Table_HAS_DOWNSTREAM")}
    authorized = tables[f"duckdb://{workdir / '.dteg' / 'authorized.duckdb'}::customers"]
    assert (secure["key"], authorized["key"]) in lineage
    tags = {r["KEY"] for r in _rows(nodes, "Tag")}
    assert {"crm", "customers"} <= tags
