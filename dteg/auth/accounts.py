"""Users, their role bindings (and their groups' and tokens'), and custom roles."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from dteg.auth.passwords import hash_password
from dteg.auth.rbac import BUILTIN_ROLES, PERMISSIONS, Binding, Roles
from dteg.auth.reading import Generation, reading, writing
from dteg.auth.schema import bindings, roles, users


class AccountError(Exception):
    """A request about users, roles or tokens that cannot be done as asked."""


@dataclass(frozen=True)
class User:
    id: str
    name: str
    source: str
    groups: tuple[str, ...]
    disabled: bool
    created_at: datetime
    last_login: datetime | None
    password_hash: str | None = None
    external_id: str | None = None  # OIDC users: "<issuer>|<sub>"


def _user(row: Any) -> User:
    return User(id=str(row["id"]), name=str(row["name"]), source=str(row["source"]),
                groups=tuple(row["groups"] or ()), disabled=bool(row["disabled"]),
                created_at=row["created_at"], last_login=row["last_login"],
                password_hash=row["password_hash"], external_id=row.get("external_id"))


def check_binding(binding: Binding, known_roles: Roles) -> None:
    if binding.role not in known_roles.names():
        raise AccountError(f"unknown role `{binding.role}`: known roles are "
                           f"{', '.join(known_roles.names())}")
    if not binding.scope or len(binding.scope) > 250:
        raise AccountError("a scope is `*`, a pipeline name pattern or namespace:<ns>")


class Accounts:
    def __init__(self, engine: Engine, generation: Generation | None = None) -> None:
        self.engine = engine
        self.generation = generation or Generation()

    # --- users -------------------------------------------------------------------------

    def create_user(self, name: str, now: datetime, password: str | None = None,
                    source: str = "local", groups: Sequence[str] = (),
                    external_id: str | None = None) -> User:
        if self.user_by_name(name) is not None:
            raise AccountError(f"a user `{name}` exists already")
        uid = secrets.token_hex(8)
        with writing(self.engine, self.generation) as tx:
            tx.execute(insert(users).values(
                id=uid, name=name, password_hash=hash_password(password) if password else None,
                source=source, groups=list(groups), disabled=False, created_at=now,
                external_id=external_id))
        user = self.user(uid)
        assert user is not None
        return user

    def user(self, uid: str) -> User | None:
        with reading(self.engine) as connection:
            row = connection.execute(select(users).where(users.c.id == uid)).mappings().first()
        return _user(row) if row else None

    def user_by_name(self, name: str) -> User | None:
        with reading(self.engine) as connection:
            row = connection.execute(select(users).where(users.c.name == name)).mappings().first()
        return _user(row) if row else None

    def user_by_external_id(self, external_id: str) -> User | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(users).where(
                users.c.external_id == external_id)).mappings().first()
        return _user(row) if row else None

    def users(self) -> list[User]:
        with reading(self.engine) as connection:
            rows = connection.execute(select(users).order_by(users.c.name)).mappings().all()
        return [_user(r) for r in rows]

    def set_password(self, uid: str, password: str) -> None:
        with writing(self.engine, self.generation) as tx:
            tx.execute(update(users).where(users.c.id == uid).values(
                password_hash=hash_password(password)))

    def set_groups(self, uid: str, groups: Sequence[str]) -> None:
        with writing(self.engine, self.generation) as tx:
            tx.execute(update(users).where(users.c.id == uid).values(groups=list(groups)))

    def set_disabled(self, uid: str, disabled: bool) -> None:
        with writing(self.engine, self.generation) as tx:
            tx.execute(update(users).where(users.c.id == uid).values(disabled=disabled))

    def logged_in(self, uid: str, now: datetime) -> None:
        with writing(self.engine, self.generation) as tx:
            tx.execute(update(users).where(users.c.id == uid).values(last_login=now))

    def delete_user(self, uid: str) -> bool:
        with writing(self.engine, self.generation) as tx:
            tx.execute(delete(bindings).where(bindings.c.subject == f"user:{uid}"))
            return bool(tx.execute(delete(users).where(users.c.id == uid)).rowcount)

    # --- bindings ----------------------------------------------------------------------

    def bindings_of(self, subjects: Sequence[str]) -> tuple[Binding, ...]:
        if not subjects:
            return ()
        with reading(self.engine) as connection:
            rows = connection.execute(select(bindings.c.role, bindings.c.scope).where(
                bindings.c.subject.in_(list(subjects))).order_by(bindings.c.id)).all()
        return tuple(Binding(str(r[0]), str(r[1])) for r in rows)

    def set_bindings(self, subject: str, wanted: Sequence[Binding]) -> None:
        known = self.roles()
        for binding in wanted:
            check_binding(binding, known)
        with writing(self.engine, self.generation) as tx:
            tx.execute(delete(bindings).where(bindings.c.subject == subject))
            if wanted:
                tx.execute(insert(bindings), [dict(subject=subject, role=b.role, scope=b.scope)
                                              for b in wanted])

    def admins(self) -> int:
        with reading(self.engine) as connection:
            rows = connection.execute(select(bindings.c.subject).where(
                bindings.c.role == "admin", bindings.c.scope == "*",
                bindings.c.subject.like("user:%"))).all()
        return len(rows)

    def grants(self, subjects: Sequence[str]) -> tuple[tuple[Binding, ...], Roles]:
        """The bindings of ``subjects`` and the custom roles, in one read."""
        with reading(self.engine) as connection:
            found = connection.execute(select(bindings.c.role, bindings.c.scope).where(
                bindings.c.subject.in_(list(subjects))).order_by(bindings.c.id)).all()
            custom = connection.execute(select(roles.c.name, roles.c.permissions)).all()
        return (tuple(Binding(str(r[0]), str(r[1])) for r in found),
                Roles({str(r[0]): frozenset(r[1]) for r in custom}))

    def identity(self, uid: str) -> tuple[User | None, tuple[Binding, ...], Roles]:
        """A user, the bindings of the user and its groups, and the custom roles: one read
        (what every authenticated request needs)."""
        with reading(self.engine) as connection:
            row = connection.execute(select(users).where(users.c.id == uid)).mappings().first()
            if row is None:
                return None, (), Roles()
            user = _user(row)
            subjects = [f"user:{uid}", *(f"group:{g}" for g in user.groups)]
            found = connection.execute(select(bindings.c.role, bindings.c.scope).where(
                bindings.c.subject.in_(subjects)).order_by(bindings.c.id)).all()
            custom = connection.execute(select(roles.c.name, roles.c.permissions)).all()
        return (user, tuple(Binding(str(r[0]), str(r[1])) for r in found),
                Roles({str(r[0]): frozenset(r[1]) for r in custom}))

    # --- roles ---------------------------------------------------------------------------

    def roles(self) -> Roles:
        with reading(self.engine) as connection:
            rows = connection.execute(select(roles.c.name, roles.c.permissions)).all()
        return Roles({str(r[0]): frozenset(r[1]) for r in rows})

    def save_role(self, name: str, permissions: Sequence[str],
                  description: str | None = None) -> None:
        if name in BUILTIN_ROLES:
            raise AccountError(f"`{name}` is a built-in role; give the custom role another name")
        unknown = sorted(set(permissions) - set(PERMISSIONS))
        if unknown:
            raise AccountError(f"unknown permission(s) {', '.join(unknown)}: known are "
                               f"{', '.join(PERMISSIONS)}")
        with writing(self.engine, self.generation) as tx:
            tx.execute(delete(roles).where(roles.c.name == name))
            tx.execute(insert(roles).values(name=name, permissions=sorted(set(permissions)),
                                            description=description))
