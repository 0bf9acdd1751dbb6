"""/api/v1/privacy: data-subject erasure across every served pipeline's loads (admin only:
``privacy.erase`` is a permission on the whole server), with one receipt per dataset in the
audit log besides the request's own entry; the compliance report (PII inventory, record of
processing, retention per load) for whoever may read the datasets, and the receipts of recent
requests for whoever may read the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from dteg.governance.catalog_store import CatalogStore
from dteg.governance.erasure import Subject, handle
from dteg.governance.inventory import build
from dteg.server.access import principal_of, requires
from dteg.server.catalog_models import ErasureRequest, ErasureResult
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.privacy_models import PrivacyReport, SubjectRequest
from dteg.server.privacy_report import retention_plan, subject_requests
from dteg.server.routes.catalog import visible_datasets
from dteg.server.visibility import visible_pipelines

router = APIRouter(prefix="/privacy", tags=["privacy"])
Context = Annotated[ServerContext, Depends(context)]


def _audit_log(ctx: ServerContext) -> Any:
    if ctx.auth is not None:
        return ctx.auth.audit
    from dteg.auth import migrate
    from dteg.auth.audit import AuditLog

    migrate.upgrade(ctx.store.engine)  # access control off: the tables may not exist yet
    return AuditLog(ctx.store.engine)


@router.post("/erase", response_model=ErasureResult,
             summary="Erase a data subject's rows from every load of the served pipelines")
def erase(body: ErasureRequest, request: Request, ctx: Context,
          _: str = requires("privacy.erase")) -> dict[str, Any]:
    subject = Subject.parse(body.subject)
    specs = [r.spec for r in ctx.current_catalog().revisions.values()]
    known = {d.key: {c["name"] for c in d.columns}
             for d in CatalogStore.for_folder(ctx.pipelines_dir).datasets() if d.columns}
    result = handle(specs, subject, "erase", known)
    principal = principal_of(request)
    log = _audit_log(ctx)
    for outcome in result.outcomes:
        log.append(actor=f"{principal.kind}:{principal.name}", action="privacy.erase",
                   resource=outcome.dataset, result=outcome.status, at=ctx.clock(),
                   detail={"request_id": result.request_id, **outcome.receipt()})
    return {"request_id": result.request_id, "complete": result.complete,
            "seconds": result.seconds, "receipts": [o.receipt() for o in result.outcomes]}


@router.get("/report", response_model=PrivacyReport,
            summary="The PII inventory and record of processing (as `dteg privacy report`), "
            "and whether each load's retention is enforced (of the pipelines the caller may "
            "see)")
def report(request: Request, ctx: Context, _: str = requires("lineage.read")
           ) -> dict[str, Any]:
    allowed = visible_pipelines(request, ctx, "lineage.read")
    specs = [r.spec for name, r in ctx.current_catalog().revisions.items()
             if allowed is None or name in allowed]
    shown = {d.key for d in visible_datasets(request, ctx, pii_only=True)}
    inventory = build(CatalogStore.for_folder(ctx.pipelines_dir), specs, allowed).to_dict()
    return {"generated_at": ctx.clock().isoformat(timespec="seconds"),
            "datasets": [d for d in inventory["datasets"] if d["dataset"] in shown],
            "retention": retention_plan(specs)}


@router.get("/requests", response_model=list[SubjectRequest],
            summary="Recent data-subject requests (erase, export) with their receipts from "
            "the audit log, newest first; never the subject's value")
def requests(ctx: Context, limit: Annotated[int, Query(ge=1, le=200)] = 20,
             scan: Annotated[int, Query(ge=1, le=20000, description="How many of the newest "
                                        "audit entries to look through")] = 5000,
             _: str = requires("audit.read")) -> list[dict[str, Any]]:
    return subject_requests(_audit_log(ctx).newest(scan), limit)
