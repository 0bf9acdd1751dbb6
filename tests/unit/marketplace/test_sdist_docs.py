"""The documentation sections the registry keeps at publish: Markdown text only, from inside the
sdist, each section and the whole capped."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from dteg.marketplace import sdist_docs
from dteg.marketplace.sdist_docs import sdist_doc_sections


def _sdist(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"pkg-1.0.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_the_four_sections_in_order_markdown_only(tmp_path: Path) -> None:
    sdist = _sdist(tmp_path / "a.tar.gz", {
        "docs/troubleshooting.md": b"# Trouble", "docs/overview.md": b"# Overview\n\ntext\n",
        "guide/config.txt": b"plain", "docs/examples.md": b"\x00\x01binary",
        "secret.md": b"outside"})
    manifest = {"documentation": {"configuration": "guide/config.txt",
                                  "examples": "docs/examples.md"}}
    assert sdist_doc_sections(sdist, manifest) == {
        "overview": "# Overview\n\ntext", "troubleshooting": "# Trouble"}
    assert sdist_doc_sections(sdist, {"documentation": {"overview": "../secret.md"}}) == {
        "troubleshooting": "# Trouble"}


def test_oversized_sections_and_unreadable_archives_give_nothing(tmp_path: Path) -> None:
    big = b"#" * (sdist_docs.MAX_DOC_BYTES + 1)
    sdist = _sdist(tmp_path / "b.tar.gz", {"docs/overview.md": big, "docs/examples.md": b"ok"})
    assert sdist_doc_sections(sdist, {}) == {"examples": "ok"}
    broken = tmp_path / "c.tar.gz"
    broken.write_bytes(b"not a tar")
    assert sdist_doc_sections(broken, {}) == {}


def test_the_whole_is_capped(tmp_path: Path) -> None:
    part = b"x" * (sdist_docs.MAX_DOCS_TOTAL_BYTES // 2 - 10)
    files = {f"docs/{s}.md": part for s in ("overview", "configuration", "examples",
                                             "troubleshooting")}
    found = sdist_doc_sections(_sdist(tmp_path / "d.tar.gz", files), {})
    assert list(found) == ["overview", "configuration"]
