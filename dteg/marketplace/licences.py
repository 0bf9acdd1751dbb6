"""Licences of premium components, verified offline.

A licence is a document the registry signs with its own Ed25519 licence key (not a publisher
key): ``{id, organisation, components, seats, expires, usage_cap, grace_days, kind, issued_at}``
as canonical JSON (sorted keys, no spaces, UTF-8), with the signature and the key id beside
it. ``dteg licence install`` keeps it in the licence folder (``$DTEG_LICENCE_DIR`` or
``~/.config/dteg/licences``) and pins the registry's public key at first contact, so
``dteg install`` and ``dteg run`` check it without the network: the signature (an altered
field fails it), the components it covers, the expiry (then ``grace_days`` of warnings) and the
usage cap against the usage this machine counted in the period.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dteg.errors import ConfigError
from dteg.marketplace import signing

Status = Literal["valid", "grace", "expired"]
LICENCE_FIELDS = ("id", "organisation", "components", "seats", "expires", "usage_cap",
                  "grace_days", "kind", "issued_at")


class LicenceRefused(ConfigError):
    """No licence lets this component run or install here (missing, tampered, expired past
    its grace period, for other components, or over its usage cap)."""


def canonical(payload: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def licence_dir() -> Path:
    """``$DTEG_LICENCE_DIR`` or ``~/.config/dteg/licences``."""
    configured = os.environ.get("DTEG_LICENCE_DIR")
    return Path(configured).expanduser() if configured else (
        Path.home() / ".config" / "dteg" / "licences")


def period_of(day: dt.date) -> str:
    """``YYYY-MM``: the billing period a day falls in."""
    return f"{day.year:04d}-{day.month:02d}"


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


@dataclass(frozen=True)
class Licence:
    """A signed licence document as stored: the payload, its signature, the key id and the
    registry it came from."""

    payload: dict[str, Any]
    signature: str
    key_id: str
    registry: str

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def components(self) -> list[str]:
        return [str(c) for c in self.payload.get("components") or []]

    @property
    def expires(self) -> dt.date:
        return dt.date.fromisoformat(str(self.payload["expires"]))

    @property
    def grace_days(self) -> int:
        return int(self.payload.get("grace_days") or 0)

    def status(self, on: dt.date) -> Status:
        if on <= self.expires:
            return "valid"
        if on <= self.expires + dt.timedelta(days=self.grace_days):
            return "grace"
        return "expired"

    def to_json(self) -> dict[str, Any]:
        return {"licence": self.payload, "signature": self.signature, "key_id": self.key_id,
                "registry": self.registry}

    @classmethod
    def from_json(cls, data: Any, *, where: str, registry: str | None = None) -> Licence:
        if not (isinstance(data, dict) and isinstance(data.get("licence"), dict)
                and isinstance(data.get("signature"), str)):
            raise LicenceRefused(f"{where} is not a dteg licence (it needs `licence`, "
                                 "`signature` and `key_id`)",
                                 hint="Use the file the registry issued, or `dteg licence "
                                      "install ID` to fetch it.")
        missing = [f for f in LICENCE_FIELDS if f not in data["licence"]]
        if missing:
            raise LicenceRefused(f"{where} lacks licence fields: {', '.join(missing)}",
                                 hint="Use the file the registry issued, unchanged.")
        return cls(dict(data["licence"]), data["signature"], str(data.get("key_id") or ""),
                   str(registry or data.get("registry") or ""))

    def verify(self, public_key_b64: str) -> bool:
        """Whether the registry's key signed exactly this payload."""
        return signing.verify(public_key_b64, self.signature, canonical(self.payload))


# --- the licence folder ---------------------------------------------------------------------


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def pinned_keys(folder: Path | None = None) -> dict[str, dict[str, str]]:
    """Registry URL → ``{key_id, public_key}`` pinned at first contact."""
    found = read_json((folder or licence_dir()) / "registries.json")
    return found if isinstance(found, dict) else {}


def pin_key(registry: str, key: dict[str, str], folder: Path | None = None) -> dict[str, str]:
    """Pin a registry's licence key the first time; later a different key is refused (a
    registry that changed its key, or someone in the middle)."""
    folder = folder or licence_dir()
    keys = pinned_keys(folder)
    known = keys.get(registry)
    if known is not None:
        if known["public_key"] != key["public_key"]:
            raise LicenceRefused(
                f"the registry {registry} now presents licence key {key.get('key_id')}, not "
                f"the key {known['key_id']} pinned in {folder / 'registries.json'}",
                hint="If the registry's operator confirms a new key, remove its entry from "
                     "registries.json and install the licence again.")
        return known
    keys[registry] = {"key_id": str(key["key_id"]), "public_key": str(key["public_key"])}
    write_private(folder / "registries.json", json.dumps(keys, indent=2))
    return keys[registry]


def save_licence(licence: Licence, folder: Path | None = None) -> Path:
    path = (folder or licence_dir()) / f"{licence.id}.licence.json"
    write_private(path, json.dumps(licence.to_json(), indent=2))
    return path


def installed_licences(folder: Path | None = None) -> list[Licence]:
    folder = folder or licence_dir()
    found = []
    for path in sorted(folder.glob("*.licence.json")) if folder.is_dir() else []:
        try:
            found.append(Licence.from_json(read_json(path), where=str(path)))
        except LicenceRefused:
            continue  # a broken file is reported by check_component when it is the only one
    return found


# --- offline checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """A licence that lets a component run: ``status`` valid or grace (``warning`` set)."""

    licence: Licence
    status: Status
    warning: str | None = None


def _over_cap(licence: Licence, used: dict[str, int]) -> str | None:
    cap = licence.payload.get("usage_cap") or {}
    for what in ("rows", "runs"):
        limit = cap.get(what)
        if isinstance(limit, int) and used.get(what, 0) >= limit:
            return (f"its usage cap of {limit:,} {what} per {cap.get('per', 'month')} is "
                    f"reached ({used.get(what, 0):,} used this period)")
    return None


def check_component(component: str, *, price: str | None = None,
                    folder: Path | None = None, on: dt.date | None = None,
                    usage: Any = None) -> Verdict:
    """The licence that lets ``component`` run on ``on`` (today), checked offline; else
    ``LicenceRefused`` saying why and what to do. ``usage(licence_id, period)`` returns this
    machine's ``{rows, runs}`` of the period, for the cap."""
    folder = folder or licence_dir()
    on = on or today()
    keys = pinned_keys(folder)
    how = (f"Get one with `dteg licence request {component}` (or ask your organisation's "
           "admin), then `dteg licence install ID`.")
    reasons: list[str] = []
    best: Verdict | None = None
    for licence in installed_licences(folder):
        if component not in licence.components:
            continue
        key = keys.get(licence.registry)
        if key is None:
            reasons.append(f"{licence.id}: the key of its registry {licence.registry} is not "
                           "pinned (install it with `dteg licence install`)")
            continue
        if licence.key_id != key["key_id"] or not licence.verify(key["public_key"]):
            reasons.append(f"{licence.id}: TAMPERED — its signature does not match its "
                           "content (a field such as `expires` was altered)")
            continue
        status = licence.status(on)
        if status == "expired":
            end = licence.expires + dt.timedelta(days=licence.grace_days)
            reasons.append(f"{licence.id}: expired on {licence.expires.isoformat()} and its "
                           f"{licence.grace_days}-day grace period ended on {end.isoformat()}")
            continue
        over = _over_cap(licence, usage(licence.id, period_of(on)) if usage else {})
        if over:
            reasons.append(f"{licence.id}: {over}")
            continue
        warning = None
        if status == "grace":
            end = licence.expires + dt.timedelta(days=licence.grace_days)
            warning = (f"warning: licence {licence.id} for {component} expired on "
                       f"{licence.expires.isoformat()}; it keeps working until "
                       f"{end.isoformat()} (grace period), then {component} is refused. "
                       "Renew it and `dteg licence install` the new one.")
        verdict = Verdict(licence, status, warning)
        if best is None or (best.status == "grace" and status == "valid"):
            best = verdict
    if best is not None:
        return best
    priced = f" ({price})" if price else ""
    if not reasons:
        raise LicenceRefused(
            f"`{component}` is a premium component{priced}: it needs a licence, and none in "
            f"{folder} covers it", hint=how)
    raise LicenceRefused(f"`{component}` is a premium component{priced} and no licence lets "
                         f"it run: {'; '.join(reasons)}", hint=how)
