"""Pagination: from one page's answer, the request for the next (or ``None``: the last page).
Each style is chosen in YAML (``pagination.style``); see ``config.Pagination``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from dteg.connectors.http import paths
from dteg.connectors.http.config import Pagination


@dataclass
class PageRequest:
    """Where the next page is: a URL plus the page parameters to add."""

    number: int  # 1 for the first page
    url: str
    page_params: dict[str, Any] = field(default_factory=dict)
    # A next-URL or Link URL already carries every parameter: nothing more is added.
    absolute: bool = False


def first(url: str, p: Pagination) -> PageRequest:
    params: dict[str, Any] = {}
    if p.style == "page":
        params[p.page_param] = p.start_page
        if p.size_param:
            params[p.size_param] = p.size
    elif p.style == "offset":
        params = {p.offset_param: 0, p.limit_param: p.size}
    return PageRequest(1, url, params)


def following(current: PageRequest, p: Pagination, body: Any, links: dict[str, str],
              records: int) -> PageRequest | None:
    """The page after ``current``, whose answer was ``body`` with ``records`` records."""
    if p.style == "none" or (p.max_pages is not None and current.number >= p.max_pages):
        return None
    number = current.number + 1
    if p.style in ("page", "offset"):
        # A short (or empty) page is the last one: asking for one more would only cost a call.
        if records < p.size:
            return None
        params = dict(current.page_params)
        if p.style == "page":
            params[p.page_param] = int(params[p.page_param]) + 1
        else:
            params[p.offset_param] = int(params[p.offset_param]) + records
        return PageRequest(number, current.url, params)
    if p.style == "cursor":
        assert p.cursor_path is not None
        cursor = paths.get(body, p.cursor_path)
        if cursor in (None, "") or records == 0:
            return None
        return PageRequest(number, current.url, {p.cursor_param: cursor})
    if p.style == "link":
        nxt = links.get("next")
        return PageRequest(number, urljoin(current.url, nxt), absolute=True) if nxt else None
    assert p.next_url_path is not None
    nxt = paths.get(body, p.next_url_path)
    if not nxt or not isinstance(nxt, str):
        return None
    return PageRequest(number, urljoin(current.url, nxt), absolute=True)
