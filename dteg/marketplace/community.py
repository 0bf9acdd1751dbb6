"""The community side of a registry, as the command line and tests use it: reviews, publisher
replies, hiding (admin), and support threads. Each function takes a ``RegistryClient`` whose
token (``dteg marketplace login``) says who is asking."""

from __future__ import annotations

from typing import Any

from dteg.marketplace.client import RegistryClient


def _base(name: str) -> str:
    return f"/api/v1/components/{name}"


def put_review(client: RegistryClient, name: str, rating: int, text: str = "",
               version: str | None = None) -> dict[str, Any]:
    """Create or edit the signed-in user's review of ``name`` (one per user per component)."""
    found: dict[str, Any] = client.call("PUT", f"{_base(name)}/reviews/mine", json={
        "rating": rating, "text": text, "version": version})
    return found


def reviews(client: RegistryClient, name: str, *, offset: int = 0,
            limit: int = 20) -> dict[str, Any]:
    """``{items, total}``: the visible reviews, newest first (admins also see hidden ones)."""
    found: dict[str, Any] = client.call("GET", f"{_base(name)}/reviews",
                                        params={"offset": offset, "limit": limit})
    return found


def reply(client: RegistryClient, name: str, review_id: str, text: str) -> dict[str, Any]:
    """The component's publisher answers a review."""
    found: dict[str, Any] = client.call("POST", f"{_base(name)}/reviews/{review_id}/reply",
                                        json={"text": text})
    return found


def hide(client: RegistryClient, name: str, review_id: str, *, hidden: bool = True,
         reason: str = "") -> dict[str, Any]:
    """An admin hides (or shows again) a review; audited."""
    action = "hide" if hidden else "unhide"
    found: dict[str, Any] = client.call("POST", f"{_base(name)}/reviews/{review_id}/{action}",
                                        json={"reason": reason})
    return found


def threads(client: RegistryClient, name: str) -> list[dict[str, Any]]:
    """Support threads of ``name``, newest first."""
    return list(client.call("GET", f"{_base(name)}/threads")["items"])


def thread(client: RegistryClient, name: str, thread_id: str) -> dict[str, Any]:
    """One thread with its posts (``items``)."""
    found: dict[str, Any] = client.call("GET", f"{_base(name)}/threads/{thread_id}")
    return found


def ask(client: RegistryClient, name: str, question: str) -> dict[str, Any]:
    """Open a thread: its title is the question's first line (at most 120 characters)."""
    title = (question.strip().splitlines() or [""])[0][:120]
    found: dict[str, Any] = client.call("POST", f"{_base(name)}/threads",
                                        json={"title": title, "text": question})
    return found


def answer(client: RegistryClient, name: str, thread_id: str, text: str) -> dict[str, Any]:
    found: dict[str, Any] = client.call("POST", f"{_base(name)}/threads/{thread_id}/posts",
                                        json={"text": text})
    return found


def solve(client: RegistryClient, name: str, thread_id: str, post_id: str) -> dict[str, Any]:
    """The asker or the publisher marks ``post_id`` as the solution."""
    found: dict[str, Any] = client.call("POST", f"{_base(name)}/threads/{thread_id}/solution",
                                        json={"post": post_id})
    return found
