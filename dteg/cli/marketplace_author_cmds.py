"""`dteg create`, `dteg publish` and `dteg publisher-key generate|show|register`: the author
side of the marketplace (writing, gating, signing and uploading components)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say
from dteg.errors import ConfigError

RegistryOpt = Annotated[str | None, typer.Option(
    "--registry", help="Registry URL (default: DTEG_MARKETPLACE_URL or http://127.0.0.1:58080)")]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", help="Publisher token (default: DTEG_MARKETPLACE_TOKEN)", show_default=False)]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key", help="Publisher key file (default: DTEG_PUBLISHER_KEY or "
    "~/.config/dteg/publisher.key)")]
PublisherOpt = Annotated[str | None, typer.Option(
    "--publisher", help="Your publisher name on the registry (default: DTEG_PUBLISHER, then "
    "the manifest's `publisher:`)", envvar="DTEG_PUBLISHER")]


def _client(registry: str | None, token: str | None) -> Any:
    from dteg.marketplace.client import RegistryClient

    return RegistryClient(registry, token)


def _key_path(key: Path | None) -> Path:
    from dteg.marketplace.signing import default_key_path

    return key or default_key_path()


def create(
    kind: Annotated[str, typer.Argument(help="connector, loader, transformer or processor")],
    name: Annotated[str, typer.Argument(help="The component's name, e.g. my-connector")],
    folder: Annotated[Path, typer.Option("--dir", help="Where NAME/ is written")] = Path("."),
    author: Annotated[str, typer.Option("--author", help="The manifest's author")] = "Your Name",
    debug: DebugOpt = False,
) -> None:
    """Create a component package (config, code, manifest, docs, tests) that passes `dteg test`
    and the publish gates as generated."""
    from dteg.marketplace.create import create_component

    target = create_component(kind, name, parent=folder, author=author)
    _say(f"created {target}/ — next: `dteg test {target}`, then `dteg publish {target}`")


def publish(
    name: Annotated[str, typer.Argument(help="The component folder (made by `dteg create`)")],
    publisher: PublisherOpt = None, registry: RegistryOpt = None, token: TokenOpt = None,
    key: KeyOpt = None, debug: DebugOpt = False,
) -> None:
    """Build the wheel and sdist, run every quality gate, sign and upload with the report."""
    from dteg.marketplace.component_test import find_component
    from dteg.marketplace.publish import publish as publish_component
    from dteg.marketplace.signing import load_key

    publisher = publisher or find_component(name).manifest.publisher
    if not publisher:
        raise ConfigError("publishing needs your publisher name",
                          hint="Pass --publisher NAME, set DTEG_PUBLISHER, or add `publisher:` "
                          "to dteg-component.yaml.")
    signer = load_key(_key_path(key))
    with _client(registry, token) as client:
        done = publish_component(name, client=client, key=signer, publisher=publisher)
    _say(done.report.render())
    _say(f"published {done.report.component} {done.report.version} to {client.url} "
         f"({done.artifacts.wheel.name}, {done.artifacts.sdist.name})")


def key_generate(key: KeyOpt = None, force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing key")] = False, debug: DebugOpt = False) -> None:
    """Create an Ed25519 publisher key (stored 0600) and print its public half."""
    from dteg.marketplace.signing import generate_key, save_key

    path = save_key(generate_key(), _key_path(key), overwrite=force)
    key_show(path)


def key_show(key: KeyOpt = None, debug: DebugOpt = False) -> None:
    """Print the public key of your publisher key."""
    from dteg.marketplace.signing import load_key

    path = _key_path(key)
    _say(f"{path}: public key {load_key(path).public_b64}")


def key_register(publisher: PublisherOpt = None, registry: RegistryOpt = None,
                 token: TokenOpt = None, key: KeyOpt = None, debug: DebugOpt = False) -> None:
    """Register your public key with the registry (needs your publisher token)."""
    from dteg.marketplace.signing import load_key

    if not publisher:
        raise ConfigError("registering a key needs your publisher name",
                          hint="Pass --publisher NAME or set DTEG_PUBLISHER.")
    public = load_key(_key_path(key)).public_b64
    with _client(registry, token) as client:
        found = client.add_publisher_key(publisher, public)
    _say(f"registered key {found.get('key_id')} for publisher {publisher}")


def register(app: typer.Typer) -> None:
    app.command()(create)
    app.command()(publish)
    keys = typer.Typer(help="Your Ed25519 publisher key.", no_args_is_help=True)
    keys.command("generate")(key_generate)
    keys.command("show")(key_show)
    keys.command("register")(key_register)
    app.add_typer(keys, name="publisher-key")
