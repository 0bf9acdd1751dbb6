"""Usage metering of premium components: after each run, a report of the rows and runs of
each licensed component goes to the registry, signed so it cannot be forged.

``dteg licence install`` registers an *installation* with the registry: a fresh Ed25519 key
pair made here, whose public half the registry binds to the licence (and the user). Each report
``{licence, installation, sequence, component, run_id, runs, rows, period, at}`` is signed with
the installation's private key (kept 0600 in the licence folder) and carries a sequence that
only goes up; the registry refuses a bad signature, a sequence it has seen (a replay) or one
lower than the last (out of order), and a report for a licence the installation is not bound
to. A report that cannot be delivered waits in the installation's spool and goes first next
time, in order.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dteg.errors import ConfigError
from dteg.marketplace import signing
from dteg.marketplace.licences import canonical, licence_dir, period_of, read_json, write_private


def _path(licence_id: str, folder: Path | None) -> Path:
    return (folder or licence_dir()) / f"{licence_id}.installation.json"


@dataclass
class Installation:
    """This machine's installation of one licence: its key, the next sequence, what it
    counted per period and the reports not yet delivered."""

    licence: str
    installation: str
    registry: str
    private_pem: str
    sequence: int = 0
    counted: dict[str, dict[str, int]] | None = None
    spool: list[dict[str, Any]] | None = None

    @property
    def key(self) -> signing.PublisherKey:
        private = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        assert isinstance(private, Ed25519PrivateKey)
        return signing.PublisherKey(private)

    def used(self, period: str) -> dict[str, int]:
        return dict((self.counted or {}).get(period) or {})

    def save(self, folder: Path | None = None) -> None:
        write_private(_path(self.licence, folder), json.dumps(vars(self), indent=2))

    @classmethod
    def load(cls, licence_id: str, folder: Path | None = None) -> Installation | None:
        data = read_json(_path(licence_id, folder))
        return cls(**data) if isinstance(data, dict) else None


def new_key() -> tuple[str, str]:
    """(private key PEM, public key base64) of a new installation key."""
    key = signing.generate_key()
    pem = key.private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    return pem, key.public_b64


def usage_of(folder: Path | None = None) -> Any:
    """``usage(licence_id, period)`` for ``licences.check_component``'s cap check."""
    def usage(licence_id: str, period: str) -> dict[str, int]:
        found = Installation.load(licence_id, folder)
        return found.used(period) if found else {}
    return usage


def signed_report(inst: Installation, component: str, run_id: str, rows: int,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """The next report of ``inst`` (its sequence advanced and counted; save ``inst`` after)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    inst.sequence += 1
    period = period_of(now.date())
    report = {"licence": inst.licence, "installation": inst.installation,
              "sequence": inst.sequence, "component": component, "run_id": run_id,
              "runs": 1, "rows": int(rows), "period": period,
              "at": now.isoformat(timespec="seconds")}
    counted = inst.counted if inst.counted is not None else {}
    this = counted.setdefault(period, {"rows": 0, "runs": 0})
    this["rows"] += int(rows)
    this["runs"] += 1
    inst.counted = counted
    return {"report": report, "signature": inst.key.sign(canonical(report))}


def deliver(inst: Installation, envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send the spool then ``envelopes`` in order; returns what could not be delivered (from
    the first failure on, so the order holds). A report the registry refuses is dropped with
    a warning: sending it again would be refused again."""
    from dteg.marketplace.client import RegistryClient, RegistryError

    pending = [*(inst.spool or []), *envelopes]
    with RegistryClient(inst.registry) as client:
        for index, envelope in enumerate(pending):
            try:
                client.report_usage(envelope)
            except RegistryError as exc:
                if exc.retriable:
                    sys.stderr.write(f"warning: usage report {envelope['report']['sequence']} "
                                     f"of licence {inst.licence} kept for later: {exc.message}\n")
                    return pending[index:]
                sys.stderr.write(f"warning: the registry refused usage report "
                                 f"{envelope['report']['sequence']}: {exc.message}\n")
    return []


def record_run(licence_id: str, component: str, run_id: str, rows: int,
               folder: Path | None = None) -> None:
    """Count one run of ``component`` and report it to the registry."""
    inst = Installation.load(licence_id, folder)
    if inst is None:
        raise ConfigError(f"licence {licence_id} has no installation here, so its usage cannot "
                          "be reported",
                          hint="Run `dteg licence install ID` again (it registers this machine).")
    envelope = signed_report(inst, component, run_id, rows)
    inst.save(folder)  # the sequence is spent before the report leaves: never reused
    inst.spool = deliver(inst, [envelope])
    inst.save(folder)
