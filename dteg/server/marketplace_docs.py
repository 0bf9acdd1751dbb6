"""A component version's documentation, as Markdown text per section (the page renders it;
nothing here is HTML).

Where it comes from, first found wins: a ``docs`` mapping on the registry's version document
(section → Markdown, when the registry keeps the text), else the section files the manifest's
``documentation`` names, read from the version's sdist, else the sdist's README. The sdist is
only read, never unpacked: members are looked up by their exact names and capped in size.
Versions never change once published, so what was read is kept (a few dozen versions).
"""

from __future__ import annotations

import tarfile
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from dteg.marketplace.client import RegistryError
from dteg.marketplace.manifest import DOC_SECTIONS
from dteg.marketplace.sdist_docs import archive_root, doc_sections, member_text
from dteg.server.marketplace_registry import RegistryReader

MAX_SDIST_BYTES = 50 * 1024 * 1024
_KEEP = 64
_cache: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def _readme_of_pkg_info(text: str) -> str | None:
    """The long description: the body after PKG-INFO's headers."""
    _, _, body = text.partition("\n\n")
    return body.strip() or None


def read_sdist(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The documentation sections (or the README) found in the sdist at ``path``."""
    with tarfile.open(path, mode="r:gz") as archive:
        root = archive_root(archive)
        kept = doc_sections(archive, manifest)
        if kept:
            return {"source": "docs",
                    "sections": [{"name": s, "markdown": t} for s, t in kept.items()]}
        for readme in ("README.md", "README.markdown", "README.txt", "README"):
            text = member_text(archive, f"{root}/{readme}")
            if text:
                return {"source": "readme", "sections": [{"name": "readme", "markdown": text}]}
        pkg_info = member_text(archive, f"{root}/PKG-INFO")
        body = _readme_of_pkg_info(pkg_info) if pkg_info else None
        if body:
            return {"source": "readme", "sections": [{"name": "readme", "markdown": body}]}
    return {"source": "none", "sections": []}


def documentation(client: RegistryReader, version: dict[str, Any]) -> dict[str, Any]:
    """``{source: docs | readme | none, sections: [{name, markdown}], note?}``."""
    key = (client.url, str(version["name"]), str(version["version"]))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    found = _documentation(client, version)
    if found["source"] == "none":  # perhaps the registry could not answer: ask again next time
        return found
    with _lock:
        _cache[key] = found
        while len(_cache) > _KEEP:
            _cache.popitem(last=False)
    return found


def _documentation(client: RegistryReader, version: dict[str, Any]) -> dict[str, Any]:
    kept = version.get("docs")
    if isinstance(kept, dict):
        sections = [{"name": s, "markdown": str(kept[s])} for s in DOC_SECTIONS
                    if isinstance(kept.get(s), str) and kept[s].strip()]
        if sections:
            return {"source": "docs", "sections": sections}
    sdist = next((a for a in version.get("artifacts") or [] if a.get("kind") == "sdist"), None)
    if sdist is None:
        return {"source": "none", "sections": [], "note": "this version has no sdist to "
                "read its documentation from"}
    if int(sdist.get("size") or 0) > MAX_SDIST_BYTES:
        return {"source": "none", "sections": [], "note": "the sdist is too large to read "
                "its documentation from"}
    with tempfile.TemporaryDirectory(prefix="dteg-docs-") as folder:
        try:
            path = client.download(sdist, Path(folder))
        except RegistryError as exc:
            return {"source": "none", "sections": [], "note": "the registry did not give "
                    f"the sdist to read its documentation from: {exc.message}"}
        try:
            return read_sdist(path, version.get("manifest") or {})
        except (tarfile.TarError, OSError, EOFError):
            return {"source": "none", "sections": [], "note": "the sdist is not a readable "
                    "tar.gz archive"}
