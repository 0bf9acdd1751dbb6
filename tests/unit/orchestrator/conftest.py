"""A fresh SQLite store per test, and helpers to write pipeline folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from dteg.orchestrator.store.store import Store

PIPELINE = """\
pipeline:
  name: {name}
{extra}  steps:
    - extract: {{type: csv, config: {{path: in.csv}}}}
    - load: {{type: duckdb, config: {{database: out.duckdb, table: {name}, mode: replace}}}}
"""


def write_pipeline(folder: Path, name: str, extra: str = "", file: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "in.csv").write_text("id,name\n1,a\n2,b\n")
    path = folder / (file or f"{name}.yaml")
    path.write_text(PIPELINE.format(name=name, extra=extra))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    handle = Store.open(f"sqlite:///{tmp_path / 'orchestrator.sqlite'}")
    yield handle
    handle.close()
