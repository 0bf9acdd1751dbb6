"""A component version's documentation, as Markdown text per section (the page renders it;
nothing here is HTML).

Where it comes from, first found wins: a ``docs`` mapping on the registry's version document
(section → Markdown, when the registry keeps the text), else the section files the manifest's
``documentation`` names, read from the version's sdist, else the sdist's README. The sdist is
only read, never unpacked: members are looked up by their exact names and capped in size.
Versions never change once published, so what was read is kept (a few dozen versions).
"""

from __future__ import annotations

import posixpath
import tarfile
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from dteg.marketplace.client import RegistryError
from dteg.marketplace.manifest import DOC_SECTIONS
from dteg.server.marketplace_registry import RegistryReader

MAX_SDIST_BYTES = 50 * 1024 * 1024
MAX_DOC_BYTES = 256 * 1024
_KEEP = 64
_cache: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def _section_paths(manifest: dict[str, Any]) -> dict[str, str]:
    given = manifest.get("documentation") if isinstance(manifest.get("documentation"),
                                                        dict) else {}
    return {s: str((given or {}).get(s) or f"docs/{s}.md") for s in DOC_SECTIONS}


def _member_text(archive: tarfile.TarFile, name: str) -> str | None:
    try:
        member = archive.getmember(name)
    except KeyError:
        return None
    if not member.isfile() or member.size > MAX_DOC_BYTES:
        return None
    handle = archive.extractfile(member)
    if handle is None:
        return None
    text = handle.read(MAX_DOC_BYTES).decode("utf-8", errors="replace").strip()
    return text or None


def _readme_of_pkg_info(text: str) -> str | None:
    """The long description: the body after PKG-INFO's headers."""
    _, _, body = text.partition("\n\n")
    return body.strip() or None


def read_sdist(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The documentation sections (or the README) found in the sdist at ``path``."""
    with tarfile.open(path, mode="r:gz") as archive:
        names = archive.getnames()
        root = names[0].split("/", 1)[0] if names else ""
        sections = []
        for section, rel in _section_paths(manifest).items():
            clean = posixpath.normpath(rel.lstrip("/"))
            if clean.startswith(".."):
                continue
            text = _member_text(archive, f"{root}/{clean}")
            if text:
                sections.append({"name": section, "markdown": text})
        if sections:
            return {"source": "docs", "sections": sections}
        for readme in ("README.md", "README.markdown", "README.txt", "README"):
            text = _member_text(archive, f"{root}/{readme}")
            if text:
                return {"source": "readme", "sections": [{"name": "readme", "markdown": text}]}
        pkg_info = _member_text(archive, f"{root}/PKG-INFO")
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
