"""The registry's FastAPI app: the PEP 503 simple index, artifact downloads and the JSON API
(``/api/v1``). Errors are JSON ``{"detail": {"type", "message"}}``.

``create_app(store, artifacts, admin_token)`` takes its storage as arguments, so a test or
``dteg marketplace serve`` decides where metadata and bytes live.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.background import BackgroundTask

from dteg.marketplace.compat import newest_compatible
from dteg.marketplace.server.accounts import Admin, MaybeUser, account_routes, record_audit
from dteg.marketplace.server.artifacts import ArtifactStore, FolderArtifacts
from dteg.marketplace.server.billing import billing_routes
from dteg.marketplace.server.deps import Publisher, Store, component_or_404, fail
from dteg.marketplace.server.documents import hit_out, version_out
from dteg.marketplace.server.licensing import licensing_routes, require_licence
from dteg.marketplace.server.publishing import publish_routes
from dteg.marketplace.server.ranking import rank
from dteg.marketplace.server.reviews import review_routes
from dteg.marketplace.server.signals import component_signals, signal_routes, version_signals
from dteg.marketplace.server.simple import normalize, project_page, root_page
from dteg.marketplace.server.storage import MetadataStore
from dteg.marketplace.server.support import support_routes

if TYPE_CHECKING:
    from dteg.marketplace import signing
    from dteg.marketplace.server.payments.base import PaymentProvider


def create_app(store: MetadataStore, artifacts: ArtifactStore, *,
               admin_token: str | None = None,
               licence_key: signing.PublisherKey | None = None,
               payments: PaymentProvider | None = None) -> FastAPI:
    """The registry app over ``store`` (metadata) and ``artifacts`` (bytes). ``licence_key``
    signs licences (default: one made once and kept in the store); ``payments`` receives
    invoices (default: none, invoices stay in the registry)."""
    app = FastAPI(title="dteg marketplace registry", version="1")
    app.state.store = store
    app.state.artifacts = artifacts
    app.state.admin_token = admin_token
    app.state.licence_key = licence_key
    app.state.payments = payments


    # --- PEP 503 -------------------------------------------------------------------------

    @app.get("/simple/", response_class=HTMLResponse)
    def simple_root(store: Store) -> str:
        packages = {normalize(d.get("package") or d["_id"]) for d in store.components()}
        return root_page(sorted(packages))

    @app.get("/simple/{project}/", response_class=HTMLResponse)
    def simple_project(project: str, store: Store, user: MaybeUser) -> str:
        wanted = normalize(project)
        owners = [c for c in store.components()
                  if normalize(c.get("package") or c["_id"]) == wanted]
        for owner in owners:  # a premium component's links only for licence holders
            require_licence(store, user, owner)
        docs = [v for c in owners for v in store.versions(c["_id"]) if not v.get("yanked")]
        if not docs:
            raise fail(404, "not_found", f"no project `{project}`")
        return project_page(wanted, docs)

    @app.get("/files/{name}/{version}/{filename}")
    def download(name: str, version: str, filename: str, store: Store,
                 request: Request, user: MaybeUser) -> FileResponse:
        doc = store.version(name, version)
        artifact = next((a for a in (doc or {}).get("artifacts", [])
                         if a["filename"] == filename), None)
        if doc is None or artifact is None:
            raise fail(404, "not_found", f"no file {filename} of {name} {version}")
        require_licence(store, user, component_or_404(store, name))
        key = f"{name}/{version}/{filename}"
        store_ = request.app.state.artifacts
        if artifact["kind"] == "wheel":
            store.count_download(name, version)
        if isinstance(store_, FolderArtifacts):
            return FileResponse(store_.local_path(key), filename=filename)
        tmp = Path(tempfile.mkdtemp(prefix="dteg-mkt-")) / filename
        store_.fetch(key, tmp)
        return FileResponse(tmp, filename=filename,
                            background=BackgroundTask(shutil.rmtree, tmp.parent, True))

    # --- JSON API ------------------------------------------------------------------------

    @app.get("/api/v1/search")
    def search(store: Store, q: str = "", kind: str | None = None,
               category: str | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
        ranked = rank(store.components(kind=kind, category=category), q,
                      dt.datetime.now(dt.timezone.utc))
        return {"results": [hit_out(d) for d in ranked[:limit]]}

    @app.get("/api/v1/components/{name}")
    def component(name: str, store: Store) -> dict[str, Any]:
        doc = component_or_404(store, name)
        month = store.downloads_month(name)
        if month != int(doc.get("downloads_month") or 0):  # days without a download passed
            store.db.components.update_one({"_id": name}, {"$set": {"downloads_month": month}})
            store.changed()
            doc["downloads_month"] = month
        versions = sorted(store.versions(name), key=lambda v: _semver(v["version"]))
        usage = version_signals(store, name)
        return {**hit_out(doc), **component_signals(store, name),
                "versions": [{**version_out(v, docs=False), "signals": usage.get(v["version"])}
                             for v in versions]}

    @app.get("/api/v1/components/{name}/versions/{version}")
    def version(name: str, version: str, store: Store) -> dict[str, Any]:
        doc = store.version(name, version)
        if doc is None:
            component_or_404(store, name)
            raise fail(404, "not_found", f"{name} has no version {version}")
        return version_out(doc)

    @app.get("/api/v1/components/{name}/versions/{version}/gates")
    def gates(name: str, version: str, store: Store) -> dict[str, Any]:
        return dict(version_out_or_404(store, name, version)["gate_report"])

    def version_out_or_404(store: MetadataStore, name: str, version: str) -> dict[str, Any]:
        doc = store.version(name, version)
        if doc is None:
            raise fail(404, "not_found", f"{name} has no version {version}")
        return version_out(doc)

    @app.get("/api/v1/components/{name}/compatible")
    def compatible(name: str, store: Store, dteg: str, python: str) -> Any:
        component_or_404(store, name)
        found, reasons = newest_compatible(store.versions(name), dteg=dteg, python=python)
        if found is None:
            listed = "; ".join(f"{v}: {why}" for v, why in reasons.items())
            return JSONResponse(status_code=409, content={"detail": {
                "type": "incompatible", "reasons": reasons,
                "message": f"no version of {name} fits dteg {dteg} on Python {python} "
                           f"({listed})"}})
        return {"version": version_out(found), "skipped": reasons}

    @app.get("/api/v1/components/{name}/downloads")
    def downloads(name: str, store: Store) -> dict[str, Any]:
        component_or_404(store, name)
        return store.downloads(name)

    @app.get("/api/v1/advisories")
    def advisories(store: Store) -> dict[str, Any]:
        return {"advisories": store.advisories()}

    @app.post("/api/v1/advisories", status_code=201)
    def add_advisory(advisory: dict[str, Any], store: Store, admin: Admin) -> dict[str, Any]:
        if not isinstance(advisory.get("id"), str) or not isinstance(
                advisory.get("affected"), list):
            raise fail(400, "advisory", "an OSV advisory needs `id` and `affected`")
        store.put_advisory(advisory)
        record_audit(store, admin, "advisory.put", f"advisory:{advisory['id']}")
        return {"id": advisory["id"]}

    @app.post("/api/v1/publishers", status_code=201)
    def add_publisher(body: dict[str, Any], store: Store, admin: Admin) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail(400, "publisher", "a publisher needs a `name`")
        token = store.create_publisher(name, official=bool(body.get("official")))
        record_audit(store, admin, "publisher.token", f"publisher:{name}",
                     official=bool(body.get("official")))
        return {"name": name, "token": token}

    @app.get("/api/v1/publishers/{publisher}")
    def publisher_page(publisher: str, store: Store) -> dict[str, Any]:
        found = store.publisher(publisher)
        if found is None:
            raise fail(404, "not_found", f"no publisher `{publisher}` in this registry")
        mine = sorted((d for d in store.components() if d.get("publisher") == publisher),
                      key=lambda d: str(d["_id"]))
        return {"name": publisher, "verified": bool(found.get("verified")),
                "official": bool(found.get("official")),
                "components": [hit_out(d) for d in mine]}

    @app.post("/api/v1/publishers/{publisher}/verified")
    def verify_publisher(publisher: str, body: dict[str, Any], store: Store,
                         admin: Admin) -> dict[str, Any]:
        verified = body.get("verified")
        if not isinstance(verified, bool):
            raise fail(400, "publisher", "send `{\"verified\": true}` or false")
        if not store.set_publisher_verified(publisher, verified):
            raise fail(404, "not_found", f"no publisher `{publisher}` in this registry")
        record_audit(store, admin, "publisher.verify", f"publisher:{publisher}",
                     verified=verified)
        return {"name": publisher, "verified": verified}

    @app.get("/api/v1/publishers/{publisher}/keys")
    def keys(publisher: str, store: Store) -> dict[str, Any]:
        return {"keys": [{"key_id": k["_id"], "public_key": k["public_key"],
                          "added_at": k["added_at"].isoformat()} for k in store.keys(publisher)]}

    @app.post("/api/v1/publishers/{publisher}/keys", status_code=201)
    def add_key(publisher: str, body: dict[str, Any], store: Store,
                me: Publisher) -> dict[str, Any]:
        if publisher not in (me, "me"):
            raise fail(403, "auth", f"this token belongs to `{me}`, not `{publisher}`")
        from dteg.marketplace import signing

        public_key = body.get("public_key")
        try:
            import base64

            raw = base64.b64decode(str(public_key), validate=True)
            if len(raw) != 32:
                raise ValueError
        except ValueError:
            raise fail(400, "key",
                       "`public_key` must be a base64 raw 32-byte Ed25519 key") from None
        key_id = signing.key_id(me, raw)
        store.add_key(me, key_id, str(public_key))
        record_audit(store, me, "publisher.key", f"key:{key_id}")
        return {"key_id": key_id, "publisher": me, "public_key": public_key}

    app.include_router(publish_routes())
    app.include_router(account_routes())
    app.include_router(licensing_routes())
    app.include_router(billing_routes())
    app.include_router(review_routes())
    app.include_router(signal_routes())
    app.include_router(support_routes())
    return app


def _semver(text: str) -> Any:
    from packaging.version import Version

    return Version(text)
