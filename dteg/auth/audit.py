"""The audit log: append-only and hash-chained. Each entry's hash is the sha256 of its
fields and the previous entry's hash, so an edited, removed or re-ordered entry breaks the
chain from there on; ``verify`` names the first entry that does not fit. Entries are written
in one transaction with their sequence number (a gap is a missing entry)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from dteg.auth.reading import reading
from dteg.auth.schema import audit_log

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    resource: str
    address: str | None
    result: str  # allowed | denied | succeeded | failed
    status: int | None
    detail: dict[str, Any] | None
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.astimezone(timezone.utc).isoformat()
        return data


def entry_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    body = {key: fields[key] for key in ("seq", "at", "actor", "action", "resource",
                                         "address", "result", "status", "detail")}
    at = body["at"]
    body["at"] = at.astimezone(timezone.utc).isoformat() if isinstance(at, datetime) else at
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad: int | None = None  # the seq of the first entry that does not fit
    reason: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"ok: {self.entries} audit entries, the hash chain is intact"
        return f"entry {self.first_bad}: {self.reason}"


def verify_chain(entries: Iterable[Mapping[str, Any]]) -> Verification:
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in entries:
        seq = int(entry["seq"])
        if seq != expected_seq:
            return Verification(False, count, expected_seq,
                                f"missing (the next entry is {seq})" if seq > expected_seq
                                else f"out of order (found {seq} after {expected_seq - 1})")
        if entry["prev_hash"] != prev:
            return Verification(False, count, seq, "its previous-hash does not match the "
                                "entry before it (an entry before it was changed or removed)")
        if entry_hash(entry, prev) != entry["hash"]:
            return Verification(False, count, seq, "altered: its contents do not match its "
                                "hash")
        prev, expected_seq, count = str(entry["hash"]), seq + 1, count + 1
    return Verification(True, count)


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()

    def append(self, *, actor: str, action: str, resource: str, result: str, at: datetime,
               address: str | None = None, status: int | None = None,
               detail: dict[str, Any] | None = None) -> AuditEntry:
        with self._lock, self.engine.begin() as tx:  # SQLite: BEGIN IMMEDIATE, one writer
            last = tx.execute(select(audit_log.c.seq, audit_log.c.hash)
                              .order_by(audit_log.c.seq.desc()).limit(1)).first()
            seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
            fields = dict(seq=seq, at=at, actor=actor, action=action, resource=resource,
                          address=address, result=result, status=status, detail=detail)
            digest = entry_hash(fields, prev)
            tx.execute(insert(audit_log).values(**fields, prev_hash=prev, hash=digest))
        return AuditEntry(**fields, prev_hash=prev, hash=digest)  # type: ignore[arg-type]

    def entries(self, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
        query = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with reading(self.engine) as connection:
            rows = connection.execute(query).mappings().all()
        return [AuditEntry(**dict(r)) for r in rows]

    def newest(self, limit: int, before: int | None = None) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(audit_log.c.seq < before)
        with reading(self.engine) as connection:
            rows = connection.execute(query).mappings().all()
        return [AuditEntry(**dict(r)) for r in rows]

    def count(self) -> int:
        with reading(self.engine) as connection:
            return int(connection.execute(select(func.count()).select_from(audit_log))
                       .scalar() or 0)

    def _all(self) -> Iterator[dict[str, Any]]:
        after = 0
        while True:
            page = self.entries(after, 5000)
            if not page:
                return
            for entry in page:
                yield asdict(entry)
            after = page[-1].seq

    def verify(self) -> Verification:
        return verify_chain(self._all())

    def export_jsonl(self, path: Path) -> int:
        count = 0
        with path.open("w", encoding="utf-8") as handle:
            for entry in self._all():
                handle.write(json.dumps(AuditEntry(**entry).as_json(), sort_keys=True) + "\n")
                count += 1
        return count


def verify_jsonl(path: Path) -> Verification:
    """Check an exported file (JSON Lines, as ``export_jsonl`` writes it)."""
    def rows() -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    yield {"seq": number, "prev_hash": "", "hash": "", "at": "",
                           "actor": "", "action": "", "resource": "", "address": None,
                           "result": "", "status": None, "detail": None}
    return verify_chain(rows())
