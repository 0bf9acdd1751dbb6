"""`dteg licence install|list|request`: licences of premium marketplace components, kept in
the licence folder (``DTEG_LICENCE_DIR`` or ``~/.config/dteg/licences``) and checked offline
by ``dteg install`` and ``dteg run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say

RegistryOpt = Annotated[str | None, typer.Option(
    "--registry", help="Registry URL (default: DTEG_MARKETPLACE_URL or http://127.0.0.1:58080)")]


def install(
    source: Annotated[str, typer.Argument(help="A licence file the registry issued, or its ID")],
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """Install a licence: verify it with the registry's licence key (pinned here at first
    contact), keep it, and register this machine for usage reports."""
    from dteg.marketplace import licences, metering
    from dteg.marketplace.client import RegistryClient

    with RegistryClient(registry) as client:
        path = Path(source)
        if path.is_file():
            try:
                data: Any = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise licences.LicenceRefused(f"{path} is not JSON ({exc})",
                                              hint="Use the file the registry issued.") from None
            where = str(path)
        else:
            data, where = client.licence(source), f"licence {source} from {client.url}"
        licence = licences.Licence.from_json(data, where=where, registry=client.url)
        key = licences.pin_key(client.url, client.licence_key())
        if licence.key_id != key["key_id"] or not licence.verify(key["public_key"]):
            raise licences.LicenceRefused(
                f"{where} is TAMPERED: its signature does not match its content under the "
                f"registry's licence key {key['key_id']} (a field such as `expires` was "
                "altered); not installed",
                hint="Use the file exactly as the registry issued it, or `dteg licence "
                     "install ID` to fetch it again.")
        saved = licences.save_licence(licence)
        inst = metering.Installation.load(licence.id)
        if inst is None or inst.registry != client.url:
            private_pem, public_b64 = metering.new_key()
            bound = client.register_installation(licence.id, public_b64)
            inst = metering.Installation(licence.id, str(bound["installation"]), client.url,
                                         private_pem)
            inst.save()
    status = licence.status(licences.today())
    _say(f"installed licence {licence.id} ({licence.payload['kind']}, "
         f"{', '.join(licence.components)}; expires {licence.expires.isoformat()}, {status}; "
         f"installation {inst.installation}) in {saved}")


def list_licences(debug: DebugOpt = False) -> None:
    """The licences installed here, with their status today."""
    from dteg.marketplace import licences

    found = licences.installed_licences()
    if not found:
        _say(f"no licence in {licences.licence_dir()}; `dteg licence install ID` adds one")
        return
    on = licences.today()
    for lic in found:
        _say(f"{lic.id}  {lic.payload['kind']}  {','.join(lic.components)}  "
             f"expires {lic.expires.isoformat()}  {lic.status(on)}  ({lic.registry})")


def request(
    name: Annotated[str, typer.Argument(help="The premium component")],
    note: Annotated[str, typer.Option("--note", help="For the registry's admin")] = "",
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """Ask the registry for a licence of a premium component (its admin issues it)."""
    from dteg.marketplace.client import RegistryClient

    with RegistryClient(registry) as client:
        asked = client.request_licence(name, note)
    _say(f"asked for a licence of {name} (request {asked['id']}); the registry's admin issues "
         "it, then `dteg licence install ID` installs it")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Licences of premium marketplace components.",
                        no_args_is_help=True)
    group.command("install")(install)
    group.command("list")(list_licences)
    group.command("request")(request)
    app.add_typer(group, name="licence")
