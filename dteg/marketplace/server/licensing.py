"""Licences of premium components: the registry's licence-signing key, issuing licences,
enterprise seats, installations (the keys usage reports are signed with), and who may
download a premium component.

The licence key is the registry's own Ed25519 key, never a publisher's: given at start
(``create_app(licence_key=…)``), else made once and kept in the ``meta`` collection, so a
restarted registry signs with the same key. Its public half is ``GET /api/v1/licence-key``
(public: clients pin it). Collections: ``licences`` (``_id`` = licence id; the signed payload,
signature, assigned seats, the organisation's admins), ``installations`` (``_id`` = installation
id; licence, user, public key, last sequence seen), ``licence_requests``. Every mutation is
audited (``record_audit``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dteg.marketplace import signing
from dteg.marketplace.licences import canonical
from dteg.marketplace.server.accounts import Admin, RegistryUser, User, record_audit
from dteg.marketplace.server.deps import component_or_404, fail
from dteg.marketplace.server.storage import MetadataStore


class UsageCap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: int | None = Field(default=None, ge=1)
    runs: int | None = Field(default=None, ge=1)
    per: Literal["month"] = "month"


class FlatPrice(BaseModel):
    """An enterprise licence's price by contract, billed per month."""

    model_config = ConfigDict(extra="forbid")
    amount: float = Field(..., gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class LicenceRequest(BaseModel):
    """``POST /api/v1/licences``."""

    model_config = ConfigDict(extra="forbid")
    organisation: str = Field(..., min_length=1)
    components: list[str] = Field(..., min_length=1)
    seats: int = Field(default=1, ge=1)
    expires: dt.date
    usage_cap: UsageCap | None = None
    grace_days: int = Field(default=14, ge=0, le=365)
    kind: Literal["premium", "enterprise"] = "premium"
    admins: list[str] = Field(default_factory=list,
                              description="Users of the organisation who manage its seats")
    price: FlatPrice | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def signer(request: Request) -> signing.PublisherKey:
    """The registry's licence key (made and stored once when none was given)."""
    app = request.app
    if getattr(app.state, "licence_key", None) is None:
        from cryptography.hazmat.primitives import serialization

        store: MetadataStore = app.state.store
        doc = store.db.meta.find_one({"_id": "licence_key"})
        if doc is None:
            fresh = signing.generate_key()
            pem = fresh.private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()
            # Another registry process may have made it first: then use theirs.
            with contextlib.suppress(store.duplicate_key_error):
                store.db.meta.insert_one({"_id": "licence_key", "pem": pem, "created": _now()})
            doc = store.db.meta.find_one({"_id": "licence_key"})
        private = serialization.load_pem_private_key(doc["pem"].encode(), password=None)
        app.state.licence_key = signing.PublisherKey(private)  # type: ignore[arg-type]
    key: signing.PublisherKey = app.state.licence_key
    return key


def key_out(key: signing.PublisherKey) -> dict[str, str]:
    return {"key_id": key.key_id("registry"), "public_key": key.public_b64}


def status_of(payload: dict[str, Any], on: dt.date | None = None) -> str:
    """valid | grace | expired on ``on`` (today)."""
    on = on or _now().date()
    expires = dt.date.fromisoformat(payload["expires"])
    if on <= expires:
        return "valid"
    if on <= expires + dt.timedelta(days=int(payload.get("grace_days") or 0)):
        return "grace"
    return "expired"


def licence_out(doc: dict[str, Any]) -> dict[str, Any]:
    """A licence as the organisation's pages list it."""
    payload = doc["payload"]
    return {"id": doc["_id"], "organisation": payload["organisation"],
            "components": payload["components"], "seats": payload["seats"],
            "seats_used": len(doc.get("seats_assigned") or []), "expires": payload["expires"],
            "kind": payload["kind"], "status": status_of(payload),
            "usage_cap": payload.get("usage_cap"), "grace_days": payload["grace_days"],
            "assigned": list(doc.get("seats_assigned") or [])}


def signed_out(doc: dict[str, Any]) -> dict[str, Any]:
    """The licence file: payload, signature, key id."""
    return {"licence": doc["payload"], "signature": doc["signature"], "key_id": doc["key_id"]}


def licence_or_404(store: MetadataStore, licence_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = store.db.licences.find_one({"_id": licence_id})
    if found is None:
        raise fail(404, "not_found", f"no licence `{licence_id}`")
    return found


def same_organisation(user: RegistryUser, organisation: str) -> None:
    if not user.is_admin and user.organisation != organisation:
        raise fail(403, "auth", f"`{user.name}` is not a member of organisation "
                   f"`{organisation}`")


def holds_seat(doc: dict[str, Any], user: RegistryUser) -> bool:
    """A premium licence covers every user of its organisation; an enterprise one the users
    its admin assigned a seat."""
    if doc["payload"]["kind"] != "enterprise":
        return True
    return user.name in (doc.get("seats_assigned") or [])


def covering(store: MetadataStore, user: RegistryUser | None,
             component: str) -> dict[str, Any] | None:
    """The licence (valid or in grace) of the user's organisation that lets ``user`` have
    ``component``, if any."""
    if user is None or not user.organisation:
        return None
    for doc in store.db.licences.find({"organisation": user.organisation}):
        if component in doc["payload"]["components"] and status_of(doc["payload"]) != "expired" \
                and holds_seat(doc, user):
            return dict(doc)
    return None


def require_licence(store: MetadataStore, user: RegistryUser | None,
                    component: dict[str, Any]) -> None:
    """Refuse a premium component's files to anyone without a covering licence (402)."""
    pricing = component.get("pricing") or {}
    if pricing.get("tier", "free") == "free" or (user is not None and user.is_admin):
        return
    name = component["_id"]
    if covering(store, user, name) is not None:
        return
    price = ""
    if pricing.get("price"):
        unit = "month" if pricing.get("unit") == "month" else "million rows"
        price = f" ({pricing['price']:.2f} {pricing.get('currency', 'USD')}/{unit})"
    who = (f"user `{user.name}` of organisation `{user.organisation}` holds" if user else
           "this request carries no account token, so it holds")
    raise fail(402, "licence",
               f"`{name}` is a {pricing.get('tier')} component{price}; {who} no valid licence "
               f"covering it. Get one with `dteg licence request {name}` (or ask your "
               "organisation's admin), then `dteg licence install ID`.")


def licensing_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/licence-key")
    def licence_key(request: Request) -> dict[str, str]:
        """The public half of the licence key (public on purpose: clients pin it)."""
        return key_out(signer(request))

    @router.post("/api/v1/licences", status_code=201)
    def issue(body: dict[str, Any], request: Request, admin: Admin) -> dict[str, Any]:
        store: MetadataStore = request.app.state.store
        try:
            wanted = LicenceRequest.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise fail(400, "licence", f"licence field `{where}`: {first['msg']}") from None
        unknown = [c for c in wanted.components if store.component(c) is None]
        if unknown:
            raise fail(400, "licence", f"no component {', '.join(unknown)} in this registry")
        key = signer(request)
        payload = {
            "id": "lic_" + secrets.token_hex(8), "organisation": wanted.organisation,
            "components": sorted(set(wanted.components)), "seats": wanted.seats,
            "expires": wanted.expires.isoformat(),
            "usage_cap": wanted.usage_cap.model_dump(exclude_none=True) if wanted.usage_cap
            else None,
            "grace_days": wanted.grace_days, "kind": wanted.kind,
            "issued_at": _now().isoformat(timespec="seconds"),
        }
        doc = {"_id": payload["id"], "organisation": wanted.organisation, "payload": payload,
               "key_id": key.key_id("registry"),
               "signature": key.sign(canonical(payload)), "seats_assigned": [],
               "admins": wanted.admins, "price": wanted.price.model_dump() if wanted.price
               else None, "issued_by": admin.name}
        store.db.licences.insert_one(doc)
        record_audit(store, admin, "licence.issue", f"licence:{payload['id']}",
                     organisation=wanted.organisation, components=payload["components"],
                     kind=wanted.kind, expires=payload["expires"])
        return signed_out(doc)

    @router.get("/api/v1/licences/{licence_id}")
    def get_licence(licence_id: str, request: Request, user: User) -> dict[str, Any]:
        store: MetadataStore = request.app.state.store
        doc = licence_or_404(store, licence_id)
        same_organisation(user, doc["payload"]["organisation"])
        return {**signed_out(doc), "status": status_of(doc["payload"])}

    @router.post("/api/v1/licences/{licence_id}/seats")
    def seats(licence_id: str, body: dict[str, Any], request: Request,
              user: User) -> dict[str, Any]:
        store: MetadataStore = request.app.state.store
        doc = licence_or_404(store, licence_id)
        payload = doc["payload"]
        if payload["kind"] != "enterprise":
            raise fail(400, "licence", f"{licence_id} is a premium licence: it covers every "
                       "user of its organisation and has no seats to assign")
        if not (user.is_admin or (user.organisation == payload["organisation"]
                                  and user.name in (doc.get("admins") or []))):
            raise fail(403, "auth", f"`{user.name}` is not an admin of organisation "
                       f"`{payload['organisation']}` for licence {licence_id}")
        assign = [str(n) for n in body.get("assign") or []]
        remove = [str(n) for n in body.get("remove") or []]
        for name in assign:
            member = store.db.users.find_one({"_id": name})
            if member is None or member.get("organisation") != payload["organisation"]:
                raise fail(400, "licence", f"`{name}` is not a user of organisation "
                           f"`{payload['organisation']}`")
        current = [n for n in doc.get("seats_assigned") or [] if n not in remove]
        current += [n for n in assign if n not in current]
        if len(current) > payload["seats"]:
            raise fail(409, "licence", f"{licence_id} has {payload['seats']} seats; assigning "
                       f"{', '.join(assign)} would need {len(current)}. Remove a seat first "
                       "or ask for more seats.")
        store.db.licences.update_one({"_id": licence_id},
                                     {"$set": {"seats_assigned": current}})
        record_audit(store, user, "licence.seats", f"licence:{licence_id}", assign=assign,
                     remove=remove)
        return licence_out({**doc, "seats_assigned": current})

    @router.post("/api/v1/licences/{licence_id}/installations", status_code=201)
    def register(licence_id: str, body: dict[str, Any], request: Request,
                 user: User) -> dict[str, Any]:
        store: MetadataStore = request.app.state.store
        doc = licence_or_404(store, licence_id)
        same_organisation(user, doc["payload"]["organisation"])
        if not (user.is_admin or holds_seat(doc, user)):
            raise fail(403, "licence", f"`{user.name}` has no seat on enterprise licence "
                       f"{licence_id}; the organisation's admin assigns seats")
        public_key = str(body.get("public_key") or "")
        if not signing.verify_key(public_key):
            raise fail(400, "licence", "`public_key` must be a base64 raw 32-byte Ed25519 key")
        installation = "inst_" + secrets.token_hex(8)
        store.db.installations.insert_one({
            "_id": installation, "licence": licence_id, "user": user.name,
            "organisation": doc["payload"]["organisation"], "public_key": public_key,
            "last_sequence": 0, "created": _now()})
        record_audit(store, user, "licence.install", f"licence:{licence_id}",
                     installation=installation)
        return {"installation": installation, "licence": licence_id}

    @router.post("/api/v1/licence-requests", status_code=201)
    def ask(body: dict[str, Any], request: Request, user: User) -> dict[str, Any]:
        store: MetadataStore = request.app.state.store
        name = str(body.get("component") or "")
        component = component_or_404(store, name)
        request_id = "req_" + secrets.token_hex(6)
        store.db.licence_requests.insert_one({
            "_id": request_id, "component": name, "user": user.name,
            "organisation": user.organisation, "note": str(body.get("note") or "")[:500],
            "at": _now(), "status": "open"})
        record_audit(store, user, "licence.request", f"component:{name}", request=request_id)
        return {"id": request_id, "component": name, "status": "open",
                "pricing": component.get("pricing")}

    @router.get("/api/v1/organisations/{organisation}/licences")
    def organisation_licences(organisation: str, request: Request,
                              user: User) -> dict[str, Any]:
        store: MetadataStore = request.app.state.store
        same_organisation(user, organisation)
        docs = store.db.licences.find({"organisation": organisation}).sort("_id", 1)
        return {"items": [licence_out(d) for d in docs]}

    return router

