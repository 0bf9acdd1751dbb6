"""``authorize`` decides every request; a table of who may do what, where."""

from __future__ import annotations

import pytest

from dteg.auth.rbac import (
    BUILTIN_ROLES,
    PERMISSIONS,
    SERVER,
    Binding,
    Principal,
    Resource,
    Roles,
    authorize,
    scopes_of,
    visible,
)


def who(*bindings: tuple[str, str]) -> Principal:
    return Principal("user", "u1", "alice", tuple(Binding(r, s) for r, s in bindings))


SALES = Resource("sales_orders", "internal")
HR = Resource("hr_people", "internal")
SECRET = Resource("payroll", "restricted")
NS = Resource("finance.ledger", "internal")

CASES = [
    # principal, action, resource, allowed
    (who(("viewer", "*")), "runs.read", SALES, True),
    (who(("viewer", "*")), "runs.trigger", SALES, False),
    (who(("viewer", "*")), "dead_letters.read", SALES, False),
    (who(("runner", "*")), "runs.trigger", SALES, True),
    (who(("runner", "*")), "pipelines.write", SALES, False),
    (who(("editor", "*")), "pipelines.write", SALES, True),
    (who(("editor", "*")), "dead_letters.read", SALES, True),
    (who(("editor", "*")), "users.manage", SERVER, False),
    (who(("admin", "*")), "users.manage", SERVER, True),
    (who(("runner", "sales_*")), "runs.trigger", SALES, True),
    (who(("runner", "sales_*")), "runs.trigger", HR, False),
    (who(("runner", "sales_*")), "runs.read", SERVER, True),  # a list: filtered
    (who(("admin", "sales_*")), "users.manage", SERVER, False),  # system needs `*`
    (who(("viewer", "namespace:finance")), "runs.read", NS, True),
    (who(("viewer", "namespace:finance")), "runs.read", SALES, False),
    (who(("viewer", "*")), "runs.read", SECRET, False),  # restricted: not through `*`
    (who(("viewer", "payroll")), "runs.read", SECRET, True),
    (who(("admin", "*")), "runs.read", SECRET, True),
    (who(("viewer", "*"), ("runner", "sales_*")), "runs.trigger", SALES, True),
    (who(("viewer", "*"), ("runner", "sales_*")), "runs.trigger", HR, False),
    (None, "runs.read", SALES, False),
    (who(("admin", "*")), "no.such.action", SALES, False),
    (who(("ghost", "*")), "runs.read", SALES, False),  # an unknown role grants nothing
]


@pytest.mark.parametrize(("principal", "action", "resource", "allowed"), CASES)
def test_authorize(principal: Principal | None, action: str, resource: Resource,
                   allowed: bool) -> None:
    decision = authorize(principal, action, resource)
    assert decision.allowed is allowed, decision.reason
    assert decision.reason


def test_custom_roles_are_sets_of_permissions() -> None:
    roles = Roles({"auditor": frozenset({"audit.read", "runs.read"})})
    auditor = who(("auditor", "*"))
    assert authorize(auditor, "audit.read", SERVER, roles)
    assert authorize(auditor, "runs.read", SALES, roles)
    assert not authorize(auditor, "runs.trigger", SALES, roles)


def test_roles_nest_and_admin_has_everything() -> None:
    assert BUILTIN_ROLES["viewer"] < BUILTIN_ROLES["runner"] < BUILTIN_ROLES["editor"]
    assert BUILTIN_ROLES["admin"] == frozenset(PERMISSIONS)
    assert "dead_letters.read" not in BUILTIN_ROLES["runner"]


def test_lists_show_only_what_the_scopes_cover() -> None:
    alice = who(("viewer", "sales_*"), ("viewer", "payroll"))
    shown = visible(alice, [SALES, HR, SECRET])
    assert [r.pipeline for r in shown] == ["sales_orders", "payroll"]
    assert scopes_of(alice)["runs.read"] == ["sales_*", "payroll"]
