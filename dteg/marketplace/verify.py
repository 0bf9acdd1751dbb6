"""Download an artifact and prove it is what its publisher signed, before anything installs it:
the sha256 of the downloaded bytes must equal the registry's record, and the publisher's
Ed25519 signature over (file name, sha256) must verify with a key the registry lists for that
publisher. Either failure refuses the install; nothing is left on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dteg.errors import ConnectorError
from dteg.marketplace import signing
from dteg.marketplace.client import RegistryClient


class TamperedArtifact(ConnectorError):
    """An artifact whose bytes or signature do not match what was published."""


def wheel_of(version: dict[str, Any]) -> dict[str, Any]:
    """The wheel artifact of a version document."""
    for artifact in version.get("artifacts", []):
        if artifact.get("kind") == "wheel":
            return dict(artifact)
    raise ConnectorError(f"{version['name']} {version['version']} has no wheel in the registry",
                         hint="Ask its publisher to publish a wheel (`dteg publish` builds one).")


def fetch_verified(client: RegistryClient, version: dict[str, Any], folder: Path) -> Path:
    """The wheel of ``version`` in ``folder``, verified (else ``TamperedArtifact``)."""
    artifact = wheel_of(version)
    where = f"{version['name']} {version['version']} ({artifact['filename']})"
    keys = {k["key_id"]: k["public_key"]
            for k in client.publisher_keys(str(version.get("publisher") or ""))}
    public = keys.get(artifact.get("key_id", ""))
    if public is None:
        raise TamperedArtifact(
            f"{where} is signed with key {artifact.get('key_id')}, which publisher "
            f"`{version.get('publisher')}` has not registered; not installed",
            hint="Ask the publisher to register the key, or report the component.")
    path = client.download(artifact, folder)
    sha = signing.file_sha256(path)
    if sha != artifact["sha256"]:
        path.unlink(missing_ok=True)
        raise TamperedArtifact(
            f"{where}: the downloaded file's sha256 {sha} is not the published "
            f"{artifact['sha256']}; the artifact was changed after publishing, not installed",
            hint="Do not use this registry copy; report it to the registry's operator.")
    if not signing.verify(public, artifact.get("signature", ""),
                          signing.message(artifact["filename"], sha)):
        path.unlink(missing_ok=True)
        raise TamperedArtifact(
            f"{where}: the publisher's signature does not verify with key "
            f"{artifact.get('key_id')}; not installed",
            hint="Do not use this artifact; report it to the registry's operator.")
    return path
