"""dteg server's marketplace view, without a registry: documentation read from an sdist (never
outside it), old registries' components normalized, the install command."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from dteg.marketplace.client import DEFAULT_URL
from dteg.server.marketplace_docs import read_sdist
from dteg.server.marketplace_registry import install_command
from dteg.server.routes.marketplace import normalize


def _sdist(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"pkg-1.0.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_docs_sections_come_from_the_manifests_paths_in_order(tmp_path: Path) -> None:
    sdist = _sdist(tmp_path / "a.tar.gz", {
        "guide/intro.md": "# Intro", "docs/examples.md": "- one", "README.md": "# Readme"})
    found = read_sdist(sdist, {"documentation": {"overview": "guide/intro.md"}})
    assert found == {"source": "docs", "sections": [
        {"name": "overview", "markdown": "# Intro"}, {"name": "examples", "markdown": "- one"}]}


def test_without_docs_the_readme_and_never_a_path_outside_the_sdist(tmp_path: Path) -> None:
    sdist = _sdist(tmp_path / "b.tar.gz", {"README.md": "# Readme", "secret.md": "no"})
    found = read_sdist(sdist, {"documentation": {"overview": "../../secret.md",
                                                 "examples": "/etc/passwd"}})
    assert found == {"source": "readme", "sections": [{"name": "readme",
                                                       "markdown": "# Readme"}]}
    only_pkg_info = _sdist(tmp_path / "c.tar.gz", {
        "PKG-INFO": "Metadata-Version: 2.1\nName: pkg\n\nLong *description*\n"})
    assert read_sdist(only_pkg_info, {})["sections"] == [
        {"name": "readme", "markdown": "Long *description*"}]
    assert read_sdist(_sdist(tmp_path / "d.tar.gz", {"x.py": ""}), {}) == {
        "source": "none", "sections": []}


def test_an_old_registrys_component_reads_like_a_new_one() -> None:
    old = normalize({"name": "x", "rating": 4.2, "rating_count": 3, "downloads": None})
    assert old["rating"] == {"average": 4.2, "count": 3}
    assert old["badges"] == [] and old["pricing"] == {"tier": "free"}
    assert old["tier"] == "community" and old["downloads"] == 0
    new = normalize({"name": "y", "rating": {"average": 4.5, "count": 2},
                     "badges": ["certified"], "pricing": {"tier": "premium", "price": 10}})
    assert new["rating"] == {"average": 4.5, "count": 2} and new["badges"] == ["certified"]
    assert new["pricing"] == {"tier": "premium", "price": 10}


def test_the_install_command_names_the_registry_unless_it_is_the_default() -> None:
    assert install_command("kafka-extractor", "1.0.0", DEFAULT_URL) == (
        "dteg install marketplace://kafka-extractor@1.0.0")
    assert install_command("x", None, "http://reg.example:9000/") == (
        "dteg install marketplace://x --registry http://reg.example:9000/")
