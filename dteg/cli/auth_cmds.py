"""`dteg login`, `logout`, `whoami`; `dteg users …`, `dteg tokens …` (through a server's
API); `dteg audit verify|export` (a server's audit log, its database or an exported file)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say
from dteg.errors import ConfigError

ServerOpt = Annotated[str | None, typer.Option(
    "--server", help="The dteg server's URL (default: DTEG_SERVER or http://127.0.0.1:8265)")]


def _client(server: str | None) -> Any:
    from dteg.cli.client import ServerClient

    return ServerClient(server or "")


def login(
    server: ServerOpt = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="User name (default: "
                                             "asked)")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", help="Keep an API token instead (from `dteg tokens create`)")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input")] = False,
    debug: DebugOpt = False,
) -> None:
    """Sign in to a dteg server; later commands with --server use the saved token."""
    from dteg.cli.client import credentials_path

    client = _client(server)
    if token:
        client.use_api_token(token)
        _say(f"signed in to {client.server} with an API token "
             f"({client._entry['user']}); saved in {credentials_path()}")
        return
    name = user or input("user: ").strip()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(
        "password: ")
    client.login(name, password)
    _say(f"signed in to {client.server} as {name}; token saved in {credentials_path()} "
         "(readable by you only)")


def logout(server: ServerOpt = None, debug: DebugOpt = False) -> None:
    """Sign out: the server revokes the session; the saved token is forgotten."""
    client = _client(server)
    client.logout()
    _say(f"signed out of {client.server}")


def whoami(server: ServerOpt = None, debug: DebugOpt = False) -> None:
    """Who the saved credentials are, and their roles."""
    me = _client(server).get("/api/v1/auth/me")
    roles = ", ".join(f"{b['role']} on {b['scope']}" for b in me["bindings"]) or "no role"
    _say(f"{me['name']} ({me['kind']}): {roles}")


def users_list(server: ServerOpt = None, debug: DebugOpt = False) -> None:
    """The server's users and their roles."""
    for user in _client(server).get("/api/v1/users"):
        roles = ", ".join(f"{b['role']}:{b['scope']}" for b in user["bindings"]) or "-"
        flag = " (disabled)" if user["disabled"] else ""
        _say(f"{user['name']:<24}{user['source']:<7}{roles}{flag}")


def _bindings(roles: list[str]) -> list[dict[str, str]]:
    found = []
    for item in roles:
        role, _, scope = item.partition(":")
        found.append({"role": role, "scope": scope or "*"})
    return found


RoleOpt = Annotated[list[str], typer.Option(
    "--role", help="role or role:scope (scope: *, a name pattern like sales_*, or "
    "namespace:<ns>); repeat for several")]


def users_create(name: Annotated[str, typer.Argument(help="User name")],
                 role: RoleOpt, server: ServerOpt = None,
                 password_stdin: Annotated[bool, typer.Option(
                     "--password-stdin", help="Read the password from standard input")]
                 = False, debug: DebugOpt = False) -> None:
    """Create a local user with roles."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(
        f"password for {name}: ")
    _client(server).post("/api/v1/users", {"name": name, "password": password,
                                           "bindings": _bindings(role)})
    _say(f"created {name}")


def users_grant(name: Annotated[str, typer.Argument(help="User name")], role: RoleOpt,
                server: ServerOpt = None, debug: DebugOpt = False) -> None:
    """Set a user's roles (replacing the ones it had)."""
    _client(server).call("PATCH", f"/api/v1/users/{name}", {"bindings": _bindings(role)})
    _say(f"{name}: {', '.join(role)}")


def users_passwd(name: Annotated[str, typer.Argument(help="User name")],
                 server: ServerOpt = None,
                 password_stdin: Annotated[bool, typer.Option(
                     "--password-stdin", help="Read the password from standard input")]
                 = False, debug: DebugOpt = False) -> None:
    """Set a user's password (their sessions end; API tokens are not touched)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(
        f"new password for {name}: ")
    _client(server).call("PATCH", f"/api/v1/users/{name}", {"password": password})
    _say(f"{name}: password changed")


def users_delete(name: Annotated[str, typer.Argument(help="User name")],
                 server: ServerOpt = None, debug: DebugOpt = False) -> None:
    """Delete a user (their tokens stop working at once)."""
    _client(server).call("DELETE", f"/api/v1/users/{name}")
    _say(f"deleted {name}")


def tokens_create(name: Annotated[str, typer.Argument(help="What the token is for, e.g. ci")],
                  role: RoleOpt, server: ServerOpt = None,
                  days: Annotated[int | None, typer.Option(
                      help="Expires after this many days (0: never)")] = 90,
                  debug: DebugOpt = False) -> None:
    """Create an API token for a service account; it is printed once."""
    made = _client(server).post("/api/v1/tokens", {
        "name": name, "bindings": _bindings(role), "expires_in_days": days or None})
    _say(made["token"])
    sys.stderr.write(f"token {made['id']} ({name}): shown once — store it now "
                     f"(expires {made['expires_at'] or 'never'})\n")


def tokens_list(server: ServerOpt = None, debug: DebugOpt = False) -> None:
    """The API tokens (never their secrets)."""
    for t in _client(server).get("/api/v1/tokens"):
        state = "revoked" if t["revoked_at"] else f"expires {t['expires_at'] or 'never'}"
        roles = ", ".join(f"{b['role']}:{b['scope']}" for b in t["bindings"])
        _say(f"{t['id']:<14}{t['name']:<20}{roles:<30}{state}; last used "
             f"{t['last_used'] or 'never'}")


def tokens_revoke(token_id: Annotated[str, typer.Argument(help="The token's id")],
                  server: ServerOpt = None, debug: DebugOpt = False) -> None:
    """Revoke an API token (refused from the next request on)."""
    _client(server).call("DELETE", f"/api/v1/tokens/{token_id}")
    _say(f"revoked {token_id}")


def _audit_log(store: str | None, pipelines: Path | None) -> Any:
    from dteg.auth.audit import AuditLog
    from dteg.orchestrator.settings import OrchestratorSettings
    from dteg.orchestrator.store.store import Store

    settings = OrchestratorSettings.resolve(pipelines_dir=pipelines, store_url=store)
    return AuditLog(Store.open(settings.store_url).engine)


StoreOpt = Annotated[str | None, typer.Option(
    "--store", help="The server's database (default: DTEG_STORE_URL or "
    "<pipelines>/.dteg/orchestrator.sqlite)")]
PipelinesOpt = Annotated[Path | None, typer.Option(
    "--pipelines", help="The served folder (for the default store)")]


def audit_verify(
    file: Annotated[Path | None, typer.Option("--file", help="An exported JSON Lines file "
                                              "instead of the database")] = None,
    store: StoreOpt = None, pipelines: PipelinesOpt = None,
    server: Annotated[str | None, typer.Option(
        "--server", help="Ask a running server instead (needs audit.read)")] = None,
    debug: DebugOpt = False,
) -> None:
    """Check the audit log's hash chain; names the first altered or missing entry."""
    if server:
        answer = _client(server).get("/api/v1/audit/verify")
        ok, text = answer["ok"], (f"ok: {answer['entries']} audit entries, the hash chain "
                                  "is intact" if answer["ok"] else
                                  f"entry {answer['first_bad']}: {answer['reason']}")
    else:
        from dteg.auth.audit import verify_jsonl

        if file is not None and not file.is_file():
            raise ConfigError(f"no file at {file}", hint="Export one with `dteg audit export`.")
        result = verify_jsonl(file) if file else _audit_log(store, pipelines).verify()
        ok, text = result.ok, result.describe()
    if not ok:
        raise ConfigError(f"the audit log was tampered with: {text}",
                          hint="Entries from there on cannot be trusted; compare with an "
                          "earlier export.")
    _say(text)


def audit_export(output: Annotated[Path, typer.Option("--output", "-o", help="Write here")],
                 store: StoreOpt = None, pipelines: PipelinesOpt = None,
                 server: Annotated[str | None, typer.Option(
                     "--server", help="Export from a running server (needs audit.read)")]
                 = None, debug: DebugOpt = False) -> None:
    """Write the audit log as JSON Lines (verify it later with `dteg audit verify --file`)."""
    if server:
        text = _client(server).text("/api/v1/audit/export")
        output.write_text(text, encoding="utf-8")
        count = len(text.splitlines())
    else:
        count = _audit_log(store, pipelines).export_jsonl(output)
    _say(f"wrote {count} audit entries to {output}")


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    app.command()(whoami)
    users = typer.Typer(help="The users of a dteg server (needs users.manage).",
                        no_args_is_help=True)
    users.command("list")(users_list)
    users.command("create")(users_create)
    users.command("grant")(users_grant)
    users.command("passwd")(users_passwd)
    users.command("delete")(users_delete)
    app.add_typer(users, name="users")
    tokens = typer.Typer(help="API tokens for scripts and service accounts (needs "
                         "tokens.manage).", no_args_is_help=True)
    tokens.command("create")(tokens_create)
    tokens.command("list")(tokens_list)
    tokens.command("revoke")(tokens_revoke)
    app.add_typer(tokens, name="tokens")
    audit = typer.Typer(help="The audit log: verify its hash chain, export it.",
                        no_args_is_help=True)
    audit.command("verify")(audit_verify)
    audit.command("export")(audit_export)
    app.add_typer(audit, name="audit")
