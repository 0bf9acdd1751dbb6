"""Support threads per component: a signed-in user asks, anyone signed in answers, the asker
or the component's publisher marks one answer as the solution (audited).

``threads`` (``_id`` = a random id): component, title, text, user, created, ``posts`` (a count
kept with ``$inc``), ``solution`` (a post id or None). ``posts`` (``_id`` = a random id):
thread, component, user, text, created.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dteg.marketplace.server.accounts import User, record_audit
from dteg.marketplace.server.deps import Store, component_or_404, fail
from dteg.marketplace.server.documents import iso
from dteg.marketplace.server.storage import MetadataStore


class QuestionIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(default="", max_length=20_000)


class PostIn(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)


class SolutionIn(BaseModel):
    post: str = Field(min_length=1, max_length=64)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def thread_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "title": doc["title"], "user": doc["user"],
            "created": iso(doc["created"]), "posts": int(doc.get("posts") or 0),
            "solved": doc.get("solution") is not None}


def post_out(doc: dict[str, Any], solution: str | None) -> dict[str, Any]:
    return {"id": doc["_id"], "user": doc["user"], "text": doc["text"],
            "created": iso(doc["created"]), "solution": doc["_id"] == solution}


def support_routes() -> APIRouter:
    router = APIRouter()
    base = "/api/v1/components/{name}/threads"


    def thread_of(store: MetadataStore, name: str, thread_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = store.db.threads.find_one(
            {"_id": thread_id, "component": name})
        if found is None:
            raise fail(404, "not_found", f"{name} has no support thread `{thread_id}`")
        return found

    @router.post(base, status_code=201)
    def ask(name: str, body: QuestionIn, store: Store, user: User) -> dict[str, Any]:
        component_or_404(store, name)
        doc = {"_id": secrets.token_hex(6), "component": name, "title": body.title,
               "text": body.text, "user": user.name, "created": _now(), "posts": 0,
               "solution": None}
        store.db.threads.insert_one(doc)
        record_audit(store, user, "thread.create", f"component:{name}", thread=doc["_id"])
        return thread_out(doc)

    @router.get(base)
    def threads(name: str, store: Store, offset: Annotated[int, Query(ge=0)] = 0,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
        component_or_404(store, name)
        query = {"component": name}
        found = store.db.threads.find(query).sort([("created", -1), ("_id", 1)]).skip(
            offset).limit(limit)
        return {"items": [thread_out(d) for d in found],
                "total": store.db.threads.count_documents(query)}

    @router.get(base + "/{thread_id}")
    def thread(name: str, thread_id: str, store: Store) -> dict[str, Any]:
        doc = thread_of(store, name, thread_id)
        posts = store.db.posts.find({"thread": thread_id}).sort([("created", 1), ("_id", 1)])
        return {**thread_out(doc), "text": doc.get("text", ""), "solution": doc.get("solution"),
                "items": [post_out(p, doc.get("solution")) for p in posts]}

    @router.post(base + "/{thread_id}/posts", status_code=201)
    def answer(name: str, thread_id: str, body: PostIn, store: Store,
               user: User) -> dict[str, Any]:
        thread_of(store, name, thread_id)
        doc = {"_id": secrets.token_hex(6), "thread": thread_id, "component": name,
               "user": user.name, "text": body.text, "created": _now()}
        store.db.posts.insert_one(doc)
        with store.counter_lock:  # FerretDB's $inc is not atomic (see storage)
            store.db.threads.update_one({"_id": thread_id}, {"$inc": {"posts": 1}})
        record_audit(store, user, "thread.post", f"component:{name}", thread=thread_id,
                     post=doc["_id"])
        return post_out(doc, None)

    @router.post(base + "/{thread_id}/solution")
    def solve(name: str, thread_id: str, body: SolutionIn, store: Store,
              user: User) -> dict[str, Any]:
        component = component_or_404(store, name)
        doc = thread_of(store, name, thread_id)
        is_publisher = user.publisher is not None and user.publisher == component.get(
            "publisher")
        if user.name != doc["user"] and not is_publisher:
            raise fail(403, "auth", f"only the asker `{doc['user']}` or `{name}`'s publisher "
                       "may mark the solution")
        if store.db.posts.find_one({"_id": body.post, "thread": thread_id}) is None:
            raise fail(400, "support", f"thread `{thread_id}` has no post `{body.post}`")
        store.db.threads.update_one({"_id": thread_id}, {"$set": {"solution": body.post}})
        record_audit(store, user, "thread.solve", f"component:{name}", thread=thread_id,
                     post=body.post)
        return {**thread_out({**doc, "solution": body.post}), "solution": body.post}

    return router
