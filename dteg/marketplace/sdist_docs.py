"""The documentation sections a manifest names, read as Markdown text from a component's sdist.

The registry keeps them on the version document at publish, and the web UI falls back to the
same reader for versions published before. The sdist is only read, never unpacked: members are
looked up by their exact names under the archive's root folder, paths leaving it are ignored,
and each section and the whole are capped in size. Only Markdown files (``.md``,
``.markdown``) that decode as UTF-8 text count; anything else is left out.
"""

from __future__ import annotations

import posixpath
import tarfile
from pathlib import Path
from typing import Any

from dteg.marketplace.manifest import DOC_SECTIONS

MAX_DOC_BYTES = 256 * 1024
MAX_DOCS_TOTAL_BYTES = 512 * 1024
_MARKDOWN = (".md", ".markdown")


def section_paths(manifest: dict[str, Any]) -> dict[str, str]:
    """``{section: path in the package}`` for the four sections (default ``docs/NAME.md``)."""
    given = manifest.get("documentation")
    named = given if isinstance(given, dict) else {}
    return {s: str(named.get(s) or f"docs/{s}.md") for s in DOC_SECTIONS}


def member_text(archive: tarfile.TarFile, name: str, *, markdown: bool = False) -> str | None:
    """The stripped text of the regular file ``name`` in ``archive`` (``None`` when missing,
    too large, empty, or, with ``markdown``, not UTF-8 text)."""
    try:
        member = archive.getmember(name)
    except KeyError:
        return None
    if not member.isfile() or member.size > MAX_DOC_BYTES:
        return None
    handle = archive.extractfile(member)
    if handle is None:
        return None
    raw = handle.read(MAX_DOC_BYTES)
    if markdown:
        if b"\x00" in raw:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = raw.decode("utf-8", errors="replace")
    return text.strip() or None


def archive_root(archive: tarfile.TarFile) -> str:
    """The sdist's top folder (``name-version``)."""
    names = archive.getnames()
    return names[0].split("/", 1)[0] if names else ""


def doc_sections(archive: tarfile.TarFile, manifest: dict[str, Any]) -> dict[str, str]:
    """``{section: markdown}`` for each section the sdist holds, in the standard's order."""
    root, found, total = archive_root(archive), {}, 0
    for section, rel in section_paths(manifest).items():
        clean = posixpath.normpath(rel.lstrip("/"))
        if clean.startswith("..") or not clean.lower().endswith(_MARKDOWN):
            continue
        text = member_text(archive, f"{root}/{clean}", markdown=True)
        if not text:
            continue
        total += len(text.encode("utf-8"))
        if total > MAX_DOCS_TOTAL_BYTES:
            break
        found[section] = text
    return found


def sdist_doc_sections(path: Path, manifest: dict[str, Any]) -> dict[str, str]:
    """``doc_sections`` of the sdist at ``path``; ``{}`` when it is not a readable tar.gz."""
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            return doc_sections(archive, manifest)
    except (tarfile.TarError, OSError, EOFError):
        return {}
