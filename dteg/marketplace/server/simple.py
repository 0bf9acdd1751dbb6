"""PEP 503 pages: the project list and one project's files, each link with ``#sha256=`` and
``data-requires-python`` (PEP 503/345), so pip installs from the registry unchanged."""

from __future__ import annotations

import html
import re
from typing import Any


def normalize(name: str) -> str:
    """PEP 503's normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def root_page(projects: list[str]) -> str:
    links = "\n".join(f'<a href="/simple/{p}/">{html.escape(p)}</a><br/>' for p in projects)
    return f"<!DOCTYPE html>\n<html><head><title>Simple index</title></head><body>\n{links}\n" \
           "</body></html>\n"


def project_page(project: str, versions: list[dict[str, Any]]) -> str:
    lines = []
    for doc in versions:
        requires = html.escape(doc.get("requires_python") or "", quote=True)
        for art in doc.get("artifacts", []):
            attr = f' data-requires-python="{requires}"' if requires else ""
            lines.append(f'<a href="{html.escape(art["url"], quote=True)}#sha256={art["sha256"]}"'
                         f'{attr}>{html.escape(art["filename"])}</a><br/>')
    body = "\n".join(lines)
    return f"<!DOCTYPE html>\n<html><head><title>Links for {html.escape(project)}</title>" \
           f"</head><body>\n<h1>Links for {html.escape(project)}</h1>\n{body}\n</body></html>\n"
