"""HashiCorp Vault through hvac: read a key from KV v2, encrypt/decrypt with transit.

hvac is imported only here, only when a pipeline names Vault. Vault's own error text is passed
on (it never holds key material); tokens never are.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from dteg.errors import ConfigError, ConnectorError
from dteg.spec.keyring import VaultConnection, VaultKV, VaultTransit


def client(conn: VaultConnection) -> Any:
    """An authenticated hvac client for ``conn`` (``VAULT_ADDR``/``VAULT_TOKEN`` as fallbacks)."""
    try:
        import hvac
    except ModuleNotFoundError:  # pragma: no cover - hvac is a dependency
        raise ConfigError("reading keys from Vault needs the `hvac` package",
                          hint="Install it: `pip install 'hvac>=2.3,<3'`.") from None
    url = conn.url or os.environ.get("VAULT_ADDR")
    token = conn.token.get_secret_value() if conn.token else os.environ.get("VAULT_TOKEN")
    if not url:
        raise ConfigError("no Vault address: `url:` is not set and neither is VAULT_ADDR",
                          hint="Set `url: https://vault:8200` under `vault:`/`transit:`, or "
                          "export VAULT_ADDR.")
    if not token:
        raise ConfigError(f"no Vault token for {url}: `token:` is not set and neither is "
                          "VAULT_TOKEN", hint="Export VAULT_TOKEN, or set `token: ${env:…}`.")
    return hvac.Client(url=url, token=token, namespace=conn.namespace, verify=conn.verify,
                       timeout=conn.timeout)


def _vault_error(exc: Exception, what: str, url: str | None) -> ConnectorError:
    import hvac.exceptions as hx

    detail = str(exc).split(", on ")[0].strip() or type(exc).__name__
    retriable = not isinstance(exc, (hx.Forbidden, hx.InvalidPath, hx.InvalidRequest,
                                     hx.Unauthorized))
    hint = ("Check that the token may read it (a Vault policy) and that the path exists."
            if not retriable else "Check that Vault is reachable and unsealed, then run again.")
    return ConnectorError(f"Vault ({url or 'VAULT_ADDR'}) refused to {what}: {detail}",
                          hint=hint, retriable=retriable)


def read_kv_field(conf: VaultKV, *, key_id: str) -> str:
    """The text of one field of a KV v2 secret."""
    import hvac.exceptions as hx
    import requests

    vault = client(conf)
    try:
        response = vault.secrets.kv.v2.read_secret_version(
            path=conf.path, mount_point=conf.mount, version=conf.version,
            raise_on_deleted_version=True)
    except (hx.VaultError, requests.RequestException) as exc:
        raise _vault_error(exc, f"read key `{key_id}` from KV `{conf.mount}/{conf.path}`",
                           conf.url) from None
    data = (response or {}).get("data", {}).get("data") or {}
    if conf.field not in data:
        raise ConfigError(
            f"key `{key_id}`: the Vault secret `{conf.mount}/{conf.path}` has no field "
            f"`{conf.field}` (fields: {', '.join(sorted(data)) or 'none'})",
            hint="Set `field:` to the field that holds the key.",
        )
    return str(data[conf.field])


def transit_encrypt(conf: VaultTransit, plaintexts: list[bytes]) -> list[str]:
    """Encrypt many values in one request; returns Vault's ``vault:vN:…`` ciphertexts."""
    import hvac.exceptions as hx
    import requests

    if not plaintexts:
        return []
    batch = [{"plaintext": base64.b64encode(p).decode("ascii")} for p in plaintexts]
    try:
        response = client(conf).secrets.transit.encrypt_data(
            name=conf.key_name, batch_input=batch, mount_point=conf.mount)
    except (hx.VaultError, requests.RequestException) as exc:
        raise _vault_error(exc, f"encrypt with transit key `{conf.key_name}`", conf.url) from None
    results = response["data"]["batch_results"]
    errors = [r["error"] for r in results if r.get("error")]
    if errors:
        raise ConnectorError(f"Vault transit key `{conf.key_name}` refused to encrypt "
                             f"{len(errors)} value(s): {errors[0]}",
                             hint="Check the transit key's type and policy.")
    return [r["ciphertext"] for r in results]


def transit_decrypt(conf: VaultTransit, ciphertexts: list[str]) -> list[bytes | str]:
    """Decrypt many values; each result is the plaintext, or Vault's error text for it."""
    import hvac.exceptions as hx
    import requests

    if not ciphertexts:
        return []
    vault = client(conf)
    try:
        response = vault.secrets.transit.decrypt_data(
            name=conf.key_name, batch_input=[{"ciphertext": c} for c in ciphertexts],
            mount_point=conf.mount)
        results = response["data"]["batch_results"]
    except hx.InvalidRequest as exc:
        # Vault answers 400 to a batch with any bad item; find which, one by one.
        if len(ciphertexts) == 1:
            return [str(exc).split(", on ")[0]]
        del exc
        half = len(ciphertexts) // 2
        return transit_decrypt(conf, ciphertexts[:half]) + transit_decrypt(conf,
                                                                          ciphertexts[half:])
    except (hx.VaultError, requests.RequestException) as exc:
        raise _vault_error(exc, f"decrypt with transit key `{conf.key_name}`", conf.url) from None
    out: list[bytes | str] = []
    for r in results:
        if r.get("error"):
            out.append(str(r["error"]))
        else:
            out.append(base64.b64decode(r["plaintext"]))
    return out
