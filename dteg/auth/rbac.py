"""The one place that decides: ``authorize(principal, action, resource)``, pure and
table-tested.

A principal holds bindings: a role (a set of permissions) on a scope. A scope is ``*`` (every
pipeline), a pipeline name pattern (``sales_*``, fnmatch), or ``namespace:<ns>`` (the
pipelines whose ``pipeline.namespace`` — the part of the name before the first ``.`` — is
``ns``). A pipeline with ``access_level: restricted`` is visible only through bindings that
name it (a pattern or namespace other than ``*``), or to an admin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

# Every permission, by what it lets a caller do. Routes declare one each.
PERMISSIONS: dict[str, str] = {
    "pipelines.read": "list and read pipelines, their plans and schedules",
    "pipelines.validate": "check a pipeline file without saving it",
    "pipelines.write": "create or change a pipeline file",
    "pipelines.pause": "pause or resume a pipeline's schedule",
    "runs.read": "list and read runs, their counts and logs",
    "runs.trigger": "start a run or a backfill, retry a run",
    "runs.cancel": "cancel a run",
    "dead_letters.read": "read dead-lettered records (sensitive: they hold source values)",
    "lineage.read": "read datasets, lineage and schema history",
    "alerts.read": "read the alert history",
    "metrics.read": "scrape /metrics",
    "health.read": "liveness and readiness",
    "users.manage": "create, change and delete users and their roles",
    "tokens.manage": "create, list and revoke API tokens",
    "roles.manage": "define custom roles",
    "audit.read": "read, verify and export the audit log",
    "keys.manage": "rotate the token signing key",
    "account.read": "see who you are and what you may do",
    "privacy.erase": "erase a data subject's rows from every dataset (GDPR/CCPA requests)",
    "marketplace.read": "browse the marketplace registry: components, versions, gates, reviews",
    "marketplace.organisation": "see the registry organisation's licences, usage and invoices "
                                "(the organisation this server is configured for)",
}
# Actions of the routes that answer without a token (sign-in, the public keys, health).
PUBLIC_ACTIONS: dict[str, str] = {
    "auth.signin": "sign in, refresh a session, sign out",
    "auth.keys": "read the public keys that verify tokens (JWKS)",
    "ui.read": "load the web UI's pages (their data needs a token)",
}

_VIEWER = frozenset({"pipelines.read", "pipelines.validate", "runs.read", "lineage.read",
                     "alerts.read", "metrics.read", "health.read", "account.read",
                     "marketplace.read"})
_RUNNER = _VIEWER | {"runs.trigger", "runs.cancel", "pipelines.pause"}
_EDITOR = _RUNNER | {"pipelines.write", "dead_letters.read"}
BUILTIN_ROLES: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "runner": frozenset(_RUNNER),
    "editor": frozenset(_EDITOR),
    "admin": frozenset(PERMISSIONS),
}
# Permissions about the server itself, not about a pipeline: granted only by a binding on
# every pipeline (scope ``*``).
SYSTEM_PERMISSIONS = frozenset({"users.manage", "tokens.manage", "roles.manage",
                                "audit.read", "keys.manage", "metrics.read", "privacy.erase",
                                "marketplace.organisation"})

PrincipalKind = Literal["user", "token"]


@dataclass(frozen=True)
class Binding:
    role: str
    scope: str = "*"

    def covers(self, pipeline: str, namespace: str | None) -> bool:
        if self.scope == "*":
            return True
        if self.scope.startswith("namespace:"):
            return namespace is not None and self.scope[len("namespace:"):] == namespace
        return fnmatchcase(pipeline, self.scope)

    @property
    def names_pipelines(self) -> bool:
        """Scoped narrower than everything (may open a restricted pipeline)."""
        return self.scope != "*"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: str
    name: str
    bindings: tuple[Binding, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resource:
    """What an action is on: a pipeline (runs, logs and dead letters are their pipeline's),
    or the server itself (``pipeline`` None)."""

    pipeline: str | None = None
    access_level: str | None = None

    @property
    def namespace(self) -> str | None:
        if self.pipeline and "." in self.pipeline:
            return self.pipeline.split(".", 1)[0]
        return None

    @property
    def restricted(self) -> bool:
        return self.access_level == "restricted"


SERVER = Resource()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass
class Roles:
    """The built-in roles and the custom ones (sets of permissions)."""

    custom: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def permissions(self, role: str) -> frozenset[str]:
        if role in BUILTIN_ROLES:
            return BUILTIN_ROLES[role]
        return self.custom.get(role, frozenset())

    def names(self) -> list[str]:
        return [*BUILTIN_ROLES, *sorted(self.custom)]


def _grants(roles: Roles, binding: Binding, action: str) -> bool:
    return action in roles.permissions(binding.role)


def authorize(principal: Principal | None, action: str, resource: Resource = SERVER,
              roles: Roles | None = None) -> Decision:
    """May ``principal`` do ``action`` on ``resource``? (None: not signed in.)"""
    if action not in PERMISSIONS:
        return Decision(False, f"unknown action `{action}`")
    if principal is None:
        return Decision(False, "not signed in")
    roles = roles or Roles()
    granting = [b for b in principal.bindings if _grants(roles, b, action)]
    if not granting:
        return Decision(False, f"{principal.name} has no role with `{action}`")
    if resource.pipeline is None or action in SYSTEM_PERMISSIONS:
        if any(b.scope == "*" for b in granting):
            return Decision(True, f"`{action}` on the server")
        if resource.pipeline is None and action not in SYSTEM_PERMISSIONS:
            # A list route: allowed, and the list holds only what the scopes cover.
            return Decision(True, f"`{action}` within {principal.name}'s scopes")
        return Decision(False, f"`{action}` needs a role on every pipeline (scope `*`)")
    covering = [b for b in granting if b.covers(resource.pipeline, resource.namespace)]
    if not covering:
        return Decision(False, f"{principal.name} has `{action}` only on "
                        f"{', '.join(sorted({b.scope for b in granting}))}, not on "
                        f"`{resource.pipeline}`")
    if resource.restricted and not any(
            b.names_pipelines or b.role == "admin" for b in covering):
        return Decision(False, f"`{resource.pipeline}` is restricted: it needs a role "
                        "scoped to it")
    return Decision(True, f"`{action}` on `{resource.pipeline}`")


def visible(principal: Principal | None, resources: Iterable[Resource],
            action: str = "pipelines.read", roles: Roles | None = None) -> list[Resource]:
    """The resources ``principal`` may ``action`` (what list routes show)."""
    return [r for r in resources if authorize(principal, action, r, roles)]


def scopes_of(principal: Principal, roles: Roles | None = None) -> dict[str, list[str]]:
    """Action → the scopes it is granted on (what the UI shows and hides)."""
    roles = roles or Roles()
    found: dict[str, list[str]] = {}
    for binding in principal.bindings:
        for action in sorted(roles.permissions(binding.role)):
            scopes = found.setdefault(action, [])
            if binding.scope not in scopes:
                scopes.append(binding.scope)
    return found
