"""The registry's and installer's pure parts: compatibility, ranking, PEP 503 pages, gate
checks, tiers, references and the lock file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dteg.errors import ConfigError
from dteg.marketplace.compat import incompatibility, newest_compatible
from dteg.marketplace.install import breaking_between, parse_ref
from dteg.marketplace.lock import LockedComponent, read_lock, write_lock
from dteg.marketplace.server.documents import failed_gates, tier
from dteg.marketplace.server.ranking import rank
from dteg.marketplace.server.simple import normalize, project_page

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)


def test_incompatibility_names_what_is_needed_and_what_is_here() -> None:
    assert incompatibility(">=0.1,<1", ">=3.10", dteg="0.1.0", python="3.11.7") is None
    assert incompatibility(">=2", ">=3.12", dteg="0.1.0", python="3.11.7") == (
        "it needs dteg >=2, this is dteg 0.1.0; it needs Python >=3.12, this is Python 3.11.7")
    assert "is not a version specifier" in str(incompatibility("nonsense", "", dteg="0.1.0",
                                                               python="3.11.7"))


def test_newest_compatible_skips_newer_misfits_with_reasons() -> None:
    docs = [{"version": v, "framework_versions": f, "requires_python": ""}
            for v, f in (("1.0.0", ">=0.1"), ("1.10.0", ">=0.1"), ("2.0.0", ">=5"))]
    found, reasons = newest_compatible(docs, dteg="0.1.0", python="3.11.7")
    assert found is not None and found["version"] == "1.10.0"  # semver, not string order
    assert reasons == {"2.0.0": "it needs dteg >=5, this is dteg 0.1.0"}
    yanked = [{**docs[1], "yanked": True}]
    assert newest_compatible(yanked, dteg="0.1.0", python="3.11.7")[1] == {
        "1.10.0": "it was yanked by its publisher"}


def _doc(name: str, **kw: object) -> dict:
    return {"_id": name, "name": name, "description": "", "category": "", "keywords": [], **kw}


def test_rank_needs_every_word_and_prefers_name_then_quality() -> None:
    docs = [_doc("kafka-extractor", category="streaming", rating=4.0, downloads=10,
                 updated_at=NOW),
            _doc("kafka-loader", category="streaming", rating=5.0, downloads=5000,
                 updated_at=NOW - dt.timedelta(days=100)),
            _doc("csv-extractor", description="reads csv, not kafka", rating=5.0,
                 downloads=10**6, updated_at=NOW),
            _doc("s3-loader")]
    assert [d["_id"] for d in rank(docs, "kafka", NOW)] == [
        "kafka-loader", "kafka-extractor", "csv-extractor"]
    assert [d["_id"] for d in rank(docs, "kafka extractor", NOW)] == [
        "kafka-extractor", "csv-extractor"]  # each word somewhere; s3-loader has neither
    assert next(d["_id"] for d in rank(docs, "", NOW)) == "csv-extractor"  # quality only


def test_project_page_has_sha256_links_and_requires_python() -> None:
    page = project_page("kafka-extractor", [{"requires_python": ">=3.10", "artifacts": [
        {"url": "/files/k/1.0.0/k-1.0.0-py3-none-any.whl", "sha256": "ab" * 32,
         "filename": "k-1.0.0-py3-none-any.whl"}]}])
    assert (f'<a href="/files/k/1.0.0/k-1.0.0-py3-none-any.whl#sha256={"ab" * 32}" '
            'data-requires-python="&gt;=3.10">k-1.0.0-py3-none-any.whl</a>') in page
    assert normalize("Kafka_Extractor.x") == "kafka-extractor-x"


def test_failed_gates_and_tiers() -> None:
    report = {"gates": {g: {"status": "pass"} for g in
                        ("manifest", "semver", "docs", "coverage", "security")}}
    report["gates"]["coverage"] = {"status": "fail", "detail": "coverage 60.0 % < 80 %"}
    assert failed_gates(report) == ["coverage: coverage 60.0 % < 80 %",
                                    "performance: missing from the gate report"]
    assert tier({}, official=True, monthly_downloads=0) == "official"
    assert tier({"rating": 4.5}, official=False, monthly_downloads=1000) == "verified"
    assert tier({"rating": 4.5}, official=False, monthly_downloads=999) == "community"


def test_refs_and_breaking_changes_between_versions() -> None:
    assert parse_ref("marketplace://kafka-extractor@1.0.0").version == "1.0.0"
    assert str(parse_ref("kafka-extractor")) == "marketplace://kafka-extractor"
    with pytest.raises(ConfigError, match="is not a marketplace reference"):
        parse_ref("pypi://x")
    target = {"version": "3.0.0", "breaking_changes": [
        {"version": "1.5.0", "change": "a"}, {"version": "2.0.0", "change": "b"},
        {"version": "3.0.0", "change": "c"}]}
    assert [c["change"] for c in breaking_between(target, "1.5.0")] == ["b", "c"]


def test_lock_round_trip_and_a_broken_lock(tmp_path: Path) -> None:
    path = tmp_path / "dteg.lock"
    assert read_lock(path) == {}
    entry = LockedComponent("k", "1.0.0", "k", "http://r", "k-1.0.0-py3-none-any.whl",
                            "ab" * 32, "dteg:0123")
    write_lock(path, {"k": entry})
    assert read_lock(path) == {"k": entry}
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="is not a dteg lock file"):
        read_lock(path)
