"""Whether a published version fits this dteg and this Python (PEP 440 specifiers from the
manifest's ``compatibility``), and the newest one that does."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


def running() -> tuple[str, str]:
    """(dteg version, Python version) of this process."""
    from dteg.version import __version__

    return __version__, platform.python_version()


def incompatibility(framework_versions: str, python_versions: str, *, dteg: str,
                    python: str) -> str | None:
    """Why a version with these specifiers does not fit ``dteg``/``python``; None when it fits."""
    reasons = []
    for what, spec, have in (("dteg", framework_versions, dteg),
                             ("Python", python_versions, python)):
        try:
            fits = SpecifierSet(spec or "").contains(Version(have), prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            reasons.append(f"its {what} requirement `{spec}` is not a version specifier")
            continue
        if not fits:
            reasons.append(f"it needs {what} {spec}, this is {what} {have}")
    return "; ".join(reasons) or None


def version_reason(doc: dict[str, Any], *, dteg: str, python: str) -> str | None:
    """``incompatibility`` of a registry version document (None: it fits; yanked never fits)."""
    if doc.get("yanked"):
        return "it was yanked by its publisher"
    return incompatibility(doc.get("framework_versions", ""), doc.get("requires_python", ""),
                           dteg=dteg, python=python)


def newest_compatible(docs: Iterable[dict[str, Any]], *, dteg: str,
                      python: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The newest fitting version document, and the reason for each newer one that does not."""
    reasons: dict[str, str] = {}
    for doc in sorted(docs, key=lambda d: Version(d["version"]), reverse=True):
        why = version_reason(doc, dteg=dteg, python=python)
        if why is None:
            return doc, reasons
        reasons[doc["version"]] = why
    return None, reasons
