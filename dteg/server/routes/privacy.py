"""/api/v1/privacy: data-subject erasure across every served pipeline's loads (admin only:
``privacy.erase`` is a permission on the whole server), with one receipt per dataset in the
audit log besides the request's own entry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from dteg.governance.catalog_store import CatalogStore
from dteg.governance.erasure import Subject, handle
from dteg.server.access import principal_of, requires
from dteg.server.catalog_models import ErasureRequest, ErasureResult
from dteg.server.context import ServerContext
from dteg.server.deps import context

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
