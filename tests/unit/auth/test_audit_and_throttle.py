"""The audit log's hash chain names the first altered or missing entry, in the database and
in an exported file; failed logins slow down, then lock, per user and per address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from dteg.auth.audit import verify_jsonl
from dteg.auth.service import AuthService
from tests.unit.auth.conftest import Clock


def _fill(auth: AuthService, clock: Clock, count: int) -> None:
    for i in range(count):
        clock.advance(seconds=1)
        auth.audit.append(actor="user:admin", action="runs.trigger", resource=f"pipeline:p{i}",
                          result="allowed", at=clock(), address="127.0.0.1", status=201,
                          detail={"run": f"r{i}"})


def test_an_intact_log_verifies(auth: AuthService, clock: Clock) -> None:
    _fill(auth, clock, 5)
    result = auth.audit.verify()
    assert result.ok and result.entries == 6  # + the first admin's creation


def test_the_log_is_append_only_in_the_database(auth: AuthService, clock: Clock) -> None:
    _fill(auth, clock, 2)
    with pytest.raises(DatabaseError, match="append-only"), auth.engine.begin() as tx:
        tx.execute(text("UPDATE dteg_audit_log SET actor = 'x' WHERE seq = 2"))
    with pytest.raises(DatabaseError, match="append-only"), auth.engine.begin() as tx:
        tx.execute(text("DELETE FROM dteg_audit_log WHERE seq = 2"))


def _tamper(auth: AuthService, statement: str) -> None:
    """What someone with the database file can do: drop the trigger, then edit."""
    with auth.engine.begin() as tx:
        tx.execute(text("DROP TRIGGER IF EXISTS dteg_audit_log_no_update"))
        tx.execute(text("DROP TRIGGER IF EXISTS dteg_audit_log_no_delete"))
        tx.execute(text(statement))


def test_one_changed_byte_in_a_row_is_named(auth: AuthService, clock: Clock) -> None:
    _fill(auth, clock, 5)
    _tamper(auth, "UPDATE dteg_audit_log SET resource = 'pipeline:q2' WHERE seq = 4")
    result = auth.audit.verify()
    assert not result.ok and result.first_bad == 4 and "altered" in (result.reason or "")


def test_a_deleted_row_is_named(auth: AuthService, clock: Clock) -> None:
    _fill(auth, clock, 5)
    _tamper(auth, "DELETE FROM dteg_audit_log WHERE seq = 3")
    result = auth.audit.verify()
    assert not result.ok and result.first_bad == 3 and "missing" in (result.reason or "")


def test_a_recomputed_hash_breaks_the_next_link(auth: AuthService, clock: Clock) -> None:
    _fill(auth, clock, 5)
    rows = auth.audit.entries()
    from dteg.auth.audit import entry_hash

    changed = {**vars(rows[2]), "actor": "user:mallory"}
    forged = entry_hash(changed, rows[2].prev_hash)
    _tamper(auth, f"UPDATE dteg_audit_log SET actor = 'user:mallory', hash = '{forged}' "
            "WHERE seq = 3")
    result = auth.audit.verify()
    assert not result.ok and result.first_bad == 4


def test_an_exported_file_with_one_byte_changed_is_named(auth: AuthService, clock: Clock,
                                                         tmp_path: Path) -> None:
    _fill(auth, clock, 5)
    path = tmp_path / "audit.jsonl"
    assert auth.audit.export_jsonl(path) == 6
    assert verify_jsonl(path).ok
    lines = path.read_text().splitlines()
    entry = json.loads(lines[4])
    assert entry["seq"] == 5
    lines[4] = lines[4].replace('"r3"', '"r9"')  # one byte
    path.write_text("\n".join(lines) + "\n")
    result = verify_jsonl(path)
    assert not result.ok and result.first_bad == 5


def test_failed_logins_slow_down_then_lock(auth: AuthService, clock: Clock) -> None:
    for _ in range(3):
        assert auth.login("admin", "wrong", "10.0.0.9").tokens is None
        clock.advance(seconds=30)
    slowed = auth.login("admin", "wrong", "10.0.0.9")
    assert slowed.tokens is None
    blocked = auth.login("admin", "correct horse battery", "10.0.0.9")
    assert blocked.tokens is None and blocked.retry_after_s > 0  # even the right password
    for _ in range(10):
        clock.advance(seconds=61)
        auth.login("admin", "wrong", f"10.0.1.{_}")
    locked = auth.login("admin", "correct horse battery", "10.0.2.1")
    assert locked.tokens is None and "locked" in locked.reason
    clock.advance(minutes=16)
    assert auth.login("admin", "correct horse battery", "10.0.2.1").tokens is not None


def test_an_address_that_tries_many_users_is_slowed(auth: AuthService, clock: Clock) -> None:
    for name in ("a", "b", "c", "d"):
        auth.login(name, "guess", "10.9.9.9")
    verdict = auth.login("admin", "correct horse battery", "10.9.9.9")
    assert verdict.tokens is None and "10.9.9.9" in verdict.reason
    assert auth.login("admin", "correct horse battery", "10.9.9.8").tokens is not None


def test_logins_are_audited_success_and_failure(auth: AuthService) -> None:
    auth.login("admin", "nope", "10.0.0.1")
    auth.login("admin", "correct horse battery", "10.0.0.1")
    results = [(e.action, e.result) for e in auth.audit.entries() if e.action == "auth.login"]
    assert results == [("auth.login", "failed"), ("auth.login", "succeeded")]
    assert all("correct horse" not in json.dumps(e.as_json()) for e in auth.audit.entries())
