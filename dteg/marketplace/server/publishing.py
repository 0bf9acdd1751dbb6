"""``POST /api/v1/publish``: a publisher uploads a signed wheel and sdist with its manifest and
gate report. Everything is checked before any byte is stored: the token, the manifest, the
version (greater than every published one), the gate report, the file names, and each
artifact's Ed25519 signature over its sha256 (computed here, never taken from the client).
The manifest's four documentation sections are read from the sdist (Markdown text only,
size-capped) and kept on the version document as ``docs``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from dteg.errors import DtegError
from dteg.marketplace.sdist_docs import sdist_doc_sections
from dteg.marketplace.server.accounts import record_audit
from dteg.marketplace.server.deps import Artifacts, Publisher, Store, fail
from dteg.marketplace.server.documents import failed_gates, gate_summary, tier, version_out
from dteg.marketplace.server.storage import Conflict


def _json_field(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(400, what, f"`{what}` is not JSON: {exc.msg} at {exc.pos}") from None


def _check_filename(filename: str, kind: str, package: str, version: str) -> None:
    try:
        if kind == "wheel":
            dist, ver, _, _ = parse_wheel_filename(filename)
        else:
            dist, ver = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise fail(400, "artifact", f"{filename} is not a {kind} file name: {exc}") from None
    if dist != canonicalize_name(package) or ver != Version(version):
        raise fail(400, "artifact", f"{filename} is {dist} {ver}, but the manifest says "
                   f"package {package} version {version}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish_routes() -> APIRouter:
    """The publish route."""
    router = APIRouter()

    @router.post("/api/v1/publish", status_code=201)
    def publish(me: Publisher, store: Store, artifacts_store: Artifacts,
                manifest: Annotated[str, Form()], gate_report: Annotated[str, Form()],
                signatures: Annotated[str, Form()], wheel: Annotated[UploadFile, File()],
                sdist: Annotated[UploadFile, File()]) -> dict[str, Any]:
        from dteg.marketplace import signing
        from dteg.marketplace.manifest import parse_manifest

        data = _json_field(manifest, "manifest")
        try:
            parsed = parse_manifest(data, file="dteg-component.yaml (as published)")
        except DtegError as exc:
            raise fail(422, "manifest", exc.message) from None
        name, version = parsed.name, parsed.version
        existing = store.component(name)
        if existing is not None and existing.get("publisher") != me:
            raise fail(403, "auth", f"`{name}` belongs to publisher `{existing.get('publisher')}`")
        published = [Version(v["version"]) for v in store.versions(name)]
        if published and Version(version) <= max(published):
            raise fail(409, "version", f"{name} {version} is not greater than the last "
                       f"published version {max(published)}: raise the version (semver)")
        report = _json_field(gate_report, "gate_report")
        failed = failed_gates(report if isinstance(report, dict) else {})
        if failed:
            raise fail(422, "gates", f"{name} {version} failed required quality gates: "
                       + "; ".join(failed), failed=failed)
        sigs = _json_field(signatures, "signatures")
        keys = {k["_id"]: k["public_key"] for k in store.keys(me)}
        work = Path(tempfile.mkdtemp(prefix="dteg-publish-"))
        try:
            artifacts = []
            for kind, upload in (("wheel", wheel), ("sdist", sdist)):
                filename = Path(upload.filename or "").name
                _check_filename(filename, kind, parsed.package, version)
                local = work / filename
                with local.open("wb") as out:
                    shutil.copyfileobj(upload.file, out)
                sha = _sha256(local)
                sig = (sigs or {}).get(filename) if isinstance(sigs, dict) else None
                if not isinstance(sig, dict) or sig.get("key_id") not in keys:
                    raise fail(400, "signature", f"{filename} has no signature by a key of "
                               f"`{me}` (register the public key first)")
                if not signing.verify(keys[sig["key_id"]], str(sig.get("signature", "")),
                                      signing.message(filename, sha)):
                    raise fail(400, "signature", f"the signature of {filename} does not match "
                               f"its sha256 {sha} under key {sig['key_id']}")
                artifacts.append({
                    "filename": filename, "kind": kind, "sha256": sha,
                    "size": local.stat().st_size, "url": f"/files/{name}/{version}/{filename}",
                    "signature": sig["signature"], "key_id": sig["key_id"], "local": local})
            # The manifest's documentation sections as Markdown text (capped), kept on the
            # version so pages need not download the sdist to show them.
            docs = sdist_doc_sections(
                next(a["local"] for a in artifacts if a["kind"] == "sdist"), data)
            # Bytes first, then the version document: a crash in between leaves an unlisted
            # orphan object, never a listed version whose file is missing.
            for art in artifacts:
                artifacts_store.put(f"{name}/{version}/{art['filename']}",
                                                art.pop("local"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        now = dt.datetime.now(dt.timezone.utc)
        doc = {
            "name": name, "version": version, "package": parsed.package, "publisher": me,
            "published_at": now, "manifest": data,
            "requires_python": parsed.compatibility.python_versions,
            "framework_versions": parsed.compatibility.framework_versions,
            "breaking_changes": [c.model_dump() for c in parsed.breaking_changes],
            "gate_report": report, "artifacts": artifacts, "yanked": False, "docs": docs,
        }
        try:
            store.insert_version(doc)
        except Conflict:
            raise fail(409, "version", f"{name} {version} was published already") from None
        publisher = store.publisher(me) or {}
        fields: dict[str, Any] = {
            "name": name, "package": parsed.package, "kind": parsed.kind,
            "category": parsed.category, "description": parsed.description,
            "author": parsed.author, "publisher": me, "updated_at": now,
            "keywords": [p.name for p in parsed.provides], "gates": gate_summary(report),
            "latest_version": str(max([*published, Version(version)])),
            "pricing": parsed.pricing.model_dump(),
            "optional_gates": parsed.quality_gates.optional.model_dump(),
            "publisher_verified": bool(publisher.get("verified")),
        }
        monthly = store.downloads(name)["last_30_days"] if existing else 0
        fields["tier"] = tier({**(existing or {}), **fields},
                              official=bool(publisher.get("official")), monthly_downloads=monthly)
        store.upsert_component(name, fields)
        record_audit(store, me, "component.publish", f"component:{name}@{version}")
        return version_out(doc)

    return router
