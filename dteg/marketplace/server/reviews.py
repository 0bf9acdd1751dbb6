"""Reviews and ratings: one review per user per component (a rating 1–5 of a version and a
text), editable; the publisher's reply; an admin hides an abusive review (audited).

The ``reviews`` collection is keyed ``_id`` = ``component@user``, so a second PUT edits the
review and can never add one (the unique key decides, not a read before the write). The
component keeps ``rating_sum`` and ``rating_count`` over its visible reviews; each change
applies its own delta with ``$inc`` against the review as it was just before the change
(``find_one_and_update`` returns it), under the store's ``counter_lock`` (FerretDB applies
updates non-atomically, see ``storage``), so concurrent reviews never lose an update.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dteg.marketplace.server.accounts import Admin, MaybeUser, User, record_audit
from dteg.marketplace.server.deps import Store, component_or_404, fail
from dteg.marketplace.server.documents import iso
from dteg.marketplace.server.storage import MetadataStore


class ReviewIn(BaseModel):
    rating: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent)")
    text: str = Field(default="", max_length=10_000)
    version: str | None = Field(default=None, description="Default: the latest version")


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class HideIn(BaseModel):
    reason: str = Field(default="", max_length=1_000)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def review_out(doc: dict[str, Any]) -> dict[str, Any]:
    """A review as the API returns it."""
    reply = doc.get("reply")
    return {"id": doc["review_id"], "user": doc["user"], "version": doc["version"],
            "rating": doc["rating"], "text": doc.get("text", ""), "created": iso(doc["created"]),
            "updated": iso(doc["updated"]), "hidden": bool(doc.get("hidden")),
            "reply": None if not reply else {"text": reply["text"], "by": reply.get("by"),
                                             "created": iso(reply["created"])}}


def _adjust(store: MetadataStore, name: str, delta_sum: int, delta_count: int) -> None:
    if delta_sum or delta_count:
        store.db.components.update_one(
            {"_id": name}, {"$inc": {"rating_sum": delta_sum, "rating_count": delta_count}})
        store.changed()


def put_review(store: MetadataStore, name: str, user: str, version: str, rating: int,
               text: str) -> dict[str, Any]:
    """Create or edit ``user``'s review of ``name``; returns the stored review."""
    from pymongo import ReturnDocument

    now = _now()
    with store.counter_lock:
        before = store.db.reviews.find_one_and_update(
            {"_id": f"{name}@{user}"},
            {"$set": {"rating": rating, "text": text, "version": version, "updated": now},
             "$setOnInsert": {"review_id": secrets.token_hex(8), "component": name,
                              "user": user, "created": now, "hidden": False}},
            upsert=True, return_document=ReturnDocument.BEFORE)
        if before is None:
            _adjust(store, name, rating, 1)
        elif not before.get("hidden"):
            _adjust(store, name, rating - int(before["rating"]), 0)
    found: dict[str, Any] = store.db.reviews.find_one({"_id": f"{name}@{user}"})
    return found


def set_hidden(store: MetadataStore, name: str, review_id: str,
               hidden: bool) -> dict[str, Any] | None:
    """Hide or show a review; the rating changes only when its state did (the filter on the
    current state makes two concurrent hides count once). None: no such review."""
    with store.counter_lock:
        before = store.db.reviews.find_one_and_update(
            {"component": name, "review_id": review_id, "hidden": not hidden},
            {"$set": {"hidden": hidden}})
        if before is not None:
            sign = -1 if hidden else 1
            _adjust(store, name, sign * int(before["rating"]), sign)
    found: dict[str, Any] | None = store.db.reviews.find_one(
        {"component": name, "review_id": review_id})
    return found


def review_routes() -> APIRouter:
    router = APIRouter()


    def review_of(store: MetadataStore, name: str, review_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = store.db.reviews.find_one(
            {"component": name, "review_id": review_id})
        if found is None:
            raise fail(404, "not_found", f"{name} has no review `{review_id}`")
        return found

    @router.put("/api/v1/components/{name}/reviews/mine")
    def put_mine(name: str, body: ReviewIn, store: Store, user: User) -> dict[str, Any]:
        component = component_or_404(store, name)
        version = body.version or str(component.get("latest_version"))
        if store.version(name, version) is None:
            raise fail(400, "review", f"{name} has no version {version} to review")
        doc = put_review(store, name, user.name, version, body.rating, body.text)
        record_audit(store, user, "review.put", f"component:{name}",
                     review=doc["review_id"], rating=body.rating, version=version)
        return review_out(doc)

    @router.get("/api/v1/components/{name}/reviews")
    def list_reviews(name: str, store: Store, user: MaybeUser,
                     offset: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
        component_or_404(store, name)
        query: dict[str, Any] = {"component": name}
        if user is None or not user.is_admin:
            query["hidden"] = False
        total = store.db.reviews.count_documents(query)
        found = store.db.reviews.find(query).sort([("updated", -1), ("_id", 1)]).skip(
            offset).limit(limit)
        return {"items": [review_out(d) for d in found], "total": total,
                "offset": offset, "limit": limit}

    @router.post("/api/v1/components/{name}/reviews/{review_id}/reply")
    def reply(name: str, review_id: str, body: ReplyIn, store: Store,
              user: User) -> dict[str, Any]:
        component = component_or_404(store, name)
        if user.publisher is None or user.publisher != component.get("publisher"):
            raise fail(403, "auth", f"only `{name}`'s publisher "
                       f"`{component.get('publisher')}` may answer its reviews")
        review_of(store, name, review_id)
        store.db.reviews.update_one(
            {"component": name, "review_id": review_id},
            {"$set": {"reply": {"text": body.text, "by": user.name, "created": _now()}}})
        record_audit(store, user, "review.reply", f"component:{name}", review=review_id)
        return review_out(review_of(store, name, review_id))

    def hide_route(hidden: bool) -> Any:
        def change(name: str, review_id: str, store: Store, admin: Admin,
                   body: HideIn | None = None) -> dict[str, Any]:
            component_or_404(store, name)
            review_of(store, name, review_id)
            doc = set_hidden(store, name, review_id, hidden)
            record_audit(store, admin, "review.hide" if hidden else "review.unhide",
                         f"component:{name}", review=review_id,
                         reason=(body.reason if body else ""))
            if doc is None:  # deleted in between
                raise fail(404, "not_found", f"{name} has no review `{review_id}`")
            return review_out(doc)
        return change

    router.post("/api/v1/components/{name}/reviews/{review_id}/hide")(hide_route(True))
    router.post("/api/v1/components/{name}/reviews/{review_id}/unhide")(hide_route(False))
    return router
