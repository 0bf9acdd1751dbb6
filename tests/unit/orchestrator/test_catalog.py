"""The pipelines a server serves: revisions by sha256, bad files reported, last good kept."""

from __future__ import annotations

from pathlib import Path

from dteg.orchestrator.catalog import Catalog, sha256_text
from tests.unit.orchestrator.conftest import write_pipeline


def test_every_pipeline_file_is_served_and_other_yaml_is_not(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "a", '  schedule: "@daily"\n')
    write_pipeline(tmp_path / "sub", "b")
    (tmp_path / "dbt_project.yml").write_text("name: x\nversion: '1'\n")
    (tmp_path / ".dteg").mkdir()
    write_pipeline(tmp_path / ".dteg", "hidden")
    catalog = Catalog(tmp_path)
    changes = catalog.refresh()
    assert sorted(r.name for r in changes.added) == ["a", "b"]
    assert changes.problems == []
    revision = catalog.get("a")
    assert revision is not None
    assert revision.sha256 == sha256_text((tmp_path / "a.yaml").read_text())
    assert str(revision.schedule) == "@daily"
    assert not catalog.refresh()  # nothing changed


def test_a_broken_edit_is_reported_and_the_last_good_revision_keeps_running(
        tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, "a")
    catalog = Catalog(tmp_path)
    catalog.refresh()
    good = catalog.get("a")
    path.write_text(path.read_text().replace("type: csv", "type: csvv"))
    changes = catalog.refresh()
    assert len(changes.problems) == 1
    problem = changes.problems[0]
    assert problem.pipeline == "a" and str(path) in problem.error
    assert "csvv" in problem.error and "did you mean" in problem.error.lower()
    assert catalog.get("a") == good
    path.write_text(path.read_text().replace("type: csvv", "type: csv"))
    fixed = catalog.refresh()
    assert [r.name for r in fixed.changed] == ["a"] and catalog.problems == {}


def test_a_file_that_is_not_yaml_does_not_disturb_the_others(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "a")
    (tmp_path / "b.yaml").write_text("pipeline:\n  name: b\n  steps: [\n")
    catalog = Catalog(tmp_path)
    changes = catalog.refresh()
    assert [r.name for r in changes.added] == ["a"]
    assert [p.path.name for p in changes.problems] == ["b.yaml"]
    assert "b.yaml" in changes.problems[0].error


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "a")
    write_pipeline(tmp_path, "a", file="z_copy.yaml")
    changes = Catalog(tmp_path).refresh()
    assert [r.path.name for r in changes.added] == ["a.yaml"]
    assert "already served from" in changes.problems[0].error


def test_a_deleted_file_is_no_longer_served(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, "a")
    catalog = Catalog(tmp_path)
    catalog.refresh()
    path.unlink()
    assert catalog.refresh().removed == ["a"]
    assert catalog.get("a") is None
