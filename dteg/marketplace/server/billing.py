"""Usage-based billing: signed usage reports in, invoices per period out.

``POST /api/v1/usage`` takes ``{report, signature}`` from ``dteg run`` (``dteg.marketplace.
metering``). The signature is the report's authentication: it must verify with the public key
of the installation the report names; the installation must be bound to the report's licence
and the licence must cover the component; the sequence must be above the last one accepted
for that installation (one conditional update, so two deliveries of one report cannot both
count). The period is the registry's month of receipt, so a client cannot move usage between
periods. Collections: ``usage`` (``_id`` = ``installation#sequence``), ``invoices`` (``_id`` =
``licence@period``), ``customers`` (organisation → the payment provider's customer id).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from dteg.marketplace import signing
from dteg.marketplace.licences import canonical, period_of
from dteg.marketplace.server.accounts import Admin, User, record_audit
from dteg.marketplace.server.deps import fail
from dteg.marketplace.server.licensing import same_organisation
from dteg.marketplace.server.payments.base import InvoiceLine, PaymentError, ProviderInvoice
from dteg.marketplace.server.storage import MetadataStore

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PeriodQuery = Annotated[str, Query(pattern=_PERIOD.pattern, description="YYYY-MM")]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _refuse(message: str) -> Exception:
    return fail(403, "usage", message)


def accept_report(store: MetadataStore, envelope: dict[str, Any]) -> dict[str, Any]:
    """Verify and store one usage report; the stored document."""
    report, signature = envelope.get("report"), envelope.get("signature")
    if not isinstance(report, dict) or not isinstance(signature, str):
        raise fail(400, "usage", "a usage report is `{report: {…}, signature: …}`")
    inst = store.db.installations.find_one({"_id": str(report.get("installation"))})
    if inst is None:
        raise _refuse(f"installation `{report.get('installation')}` is unknown")
    if not signing.verify(inst["public_key"], signature, canonical(report)):
        raise _refuse(f"the signature of the report does not verify with installation "
                      f"{inst['_id']}'s key: forged or altered, not counted")
    if report.get("licence") != inst["licence"]:
        raise _refuse(f"installation {inst['_id']} is bound to licence {inst['licence']}, "
                      f"not {report.get('licence')}: not counted")
    licence = store.db.licences.find_one({"_id": inst["licence"]})
    component = str(report.get("component"))
    if licence is None or component not in licence["payload"]["components"]:
        raise _refuse(f"licence {inst['licence']} does not cover `{component}`")
    sequence, rows, runs = (report.get(k) for k in ("sequence", "rows", "runs"))
    if not all(isinstance(v, int) and v >= 0 for v in (sequence, rows, runs)) or not sequence:
        raise fail(400, "usage", "`sequence` (≥ 1), `rows` and `runs` must be whole numbers")
    moved = store.db.installations.update_one(
        {"_id": inst["_id"], "last_sequence": {"$lt": sequence}},
        {"$set": {"last_sequence": sequence}})
    if moved.modified_count != 1:
        last = (store.db.installations.find_one({"_id": inst["_id"]}) or {}).get(
            "last_sequence")
        raise fail(409, "usage", f"report {sequence} of installation {inst['_id']} is a replay "
                   f"or out of order (the last accepted is {last}): not counted")
    now = _now()
    doc = {"_id": f"{inst['_id']}#{sequence}", "installation": inst["_id"],
           "licence": inst["licence"], "organisation": inst["organisation"],
           "component": component, "period": period_of(now.date()), "rows": rows,
           "runs": runs, "run_id": str(report.get("run_id") or ""), "received_at": now}
    store.db.usage.insert_one(doc)
    return doc


def usage_rows(store: MetadataStore, *, period: str, organisation: str | None = None,
               licence: str | None = None) -> list[dict[str, Any]]:
    """``[{component, licence, runs, rows}]`` summed over a period."""
    query: dict[str, Any] = {"period": period}
    if organisation:
        query["organisation"] = organisation
    if licence:
        query["licence"] = licence
    sums: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in store.db.usage.find(query):
        key = (doc["component"], doc["licence"])
        row = sums.setdefault(key, {"component": key[0], "licence": key[1], "runs": 0,
                                    "rows": 0})
        row["runs"] += int(doc["runs"])
        row["rows"] += int(doc["rows"])
    return [sums[k] for k in sorted(sums)]


def _bounds(period: str) -> tuple[dt.date, dt.date]:
    year, month = (int(p) for p in period.split("-"))
    first = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def _active(payload: dict[str, Any], period: str) -> bool:
    first, last = _bounds(period)
    issued = dt.date.fromisoformat(str(payload["issued_at"])[:10])
    end = dt.date.fromisoformat(payload["expires"]) + dt.timedelta(
        days=int(payload.get("grace_days") or 0))
    return issued <= last and end >= first


def invoice_for(store: MetadataStore, licence: dict[str, Any], period: str) -> dict[str, Any]:
    """One licence's invoice: a line per component (flat per month, or price × million rows)
    and the enterprise contract price, with the period's runs and rows."""
    payload = licence["payload"]
    used = {r["component"]: r for r in usage_rows(store, period=period, licence=licence["_id"])}
    lines: list[dict[str, Any]] = []
    currencies: set[str] = set()
    for name in payload["components"]:
        pricing = (store.component(name) or {}).get("pricing") or {}
        runs, rows = used.get(name, {}).get("runs", 0), used.get(name, {}).get("rows", 0)
        unit, price = pricing.get("unit"), pricing.get("price")
        if pricing.get("tier") != "premium" or not price:
            quantity, cents = 0.0, 0
        elif unit == "million_rows":
            quantity = rows / 1_000_000
            cents = round(price * 100 * quantity)
        else:
            quantity, cents = 1.0, round(price * 100)
        if price:
            currencies.add(str(pricing.get("currency", "USD")))
        lines.append({"component": name, "runs": runs, "rows": rows,
                      "unit": unit or "contract", "unit_price": price, "quantity": quantity,
                      "amount": cents / 100, "amount_cents": cents,
                      "description": f"{name} {period}: {runs} runs, {rows:,} rows"})
    if licence.get("price"):
        cents = round(float(licence["price"]["amount"]) * 100)
        currencies.add(licence["price"]["currency"])
        lines.append({"component": None, "runs": 0, "rows": 0, "unit": "month",
                      "unit_price": licence["price"]["amount"], "quantity": 1.0,
                      "amount": cents / 100, "amount_cents": cents,
                      "description": f"{payload['kind']} licence {licence['_id']} {period}"})
    if len(currencies) > 1:
        raise fail(409, "billing", f"licence {licence['_id']} mixes currencies "
                   f"{', '.join(sorted(currencies))}; issue one licence per currency")
    total = sum(line["amount_cents"] for line in lines)
    return {"_id": f"{licence['_id']}@{period}", "id": f"inv_{licence['_id']}_{period}",
            "licence": licence["_id"], "organisation": payload["organisation"],
            "period": period, "currency": next(iter(currencies), "USD"), "lines": lines,
            "total": total / 100, "total_cents": total, "status": "draft",
            "computed_at": _now()}


def invoice_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in doc.items() if k != "_id"}


def push(request: Request, store: MetadataStore, invoice: dict[str, Any]) -> dict[str, Any]:
    """Send a draft invoice to the payment provider: customer, invoice with lines, finalize."""
    provider = request.app.state.payments
    if provider is None:
        raise fail(409, "billing", "no payment provider is configured (set "
                   "DTEG_MARKETPLACE_STRIPE_KEY for Stripe); the invoice stays in the registry")
    org = invoice["organisation"]
    try:
        customer = (store.db.customers.find_one({"_id": org}) or {}).get("customer")
        if not customer:
            customer = provider.create_customer(org)
            store.db.customers.replace_one({"_id": org}, {"_id": org, "customer": customer,
                                                          "provider": provider.name},
                                           upsert=True)
        lines = tuple(InvoiceLine(line["description"], int(line["amount_cents"]))
                      for line in invoice["lines"] if line["amount_cents"] > 0)
        remote = provider.attach_invoice(customer, ProviderInvoice(
            invoice["id"], org, invoice["period"], invoice["currency"], lines))
        status = provider.finalize(remote)
    except PaymentError as exc:
        raise fail(502, "payments", str(exc)) from None
    changes = {"status": "open", "provider": provider.name, "provider_invoice": remote,
               "provider_status": status, "customer": customer}
    store.db.invoices.update_one({"_id": invoice["_id"]}, {"$set": changes})
    return {**invoice, **changes}


def billing_routes() -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/usage", status_code=201)
    def report_usage(envelope: dict[str, Any], request: Request) -> dict[str, Any]:
        """Authenticated by the installation's signature over the report, not a token."""
        doc = accept_report(request.app.state.store, envelope)
        return {"accepted": doc["_id"], "period": doc["period"]}

    @router.get("/api/v1/organisations/{organisation}/usage")
    def organisation_usage(organisation: str, request: Request, user: User,
                           period: PeriodQuery | None = None) -> dict[str, Any]:
        same_organisation(user, organisation)
        period = period or period_of(_now().date())
        return {"period": period, "items": usage_rows(
            request.app.state.store, period=period, organisation=organisation)}

    @router.post("/api/v1/invoices/compute")
    def compute(request: Request, admin: Admin, period: PeriodQuery,
                send: bool = False) -> dict[str, Any]:
        """Invoices of every licence active in ``period``; ``send=true`` pushes each draft
        to the payment provider. An invoice already sent is kept as it is."""
        store: MetadataStore = request.app.state.store
        out = []
        for licence in store.db.licences.find({}).sort("_id", 1):
            if not _active(licence["payload"], period):
                continue
            kept = store.db.invoices.find_one({"_id": f"{licence['_id']}@{period}"})
            if kept is not None and kept.get("status") != "draft":
                out.append(kept)
                continue
            invoice = invoice_for(store, licence, period)
            store.db.invoices.replace_one({"_id": invoice["_id"]}, invoice, upsert=True)
            if send:
                invoice = push(request, store, invoice)
            out.append(invoice)
        record_audit(store, admin, "invoices.compute", f"period:{period}",
                     invoices=[i["id"] for i in out], sent=send)
        return {"period": period, "items": [invoice_out(i) for i in out]}

    @router.get("/api/v1/organisations/{organisation}/invoices")
    def organisation_invoices(organisation: str, request: Request,
                              user: User) -> dict[str, Any]:
        same_organisation(user, organisation)
        docs = request.app.state.store.db.invoices.find({"organisation": organisation})
        return {"items": [invoice_out(d) for d in sorted(docs, key=lambda d: (
            d["period"], d["_id"]), reverse=True)]}

    return router
