"""``security.keys``: the keyring a pipeline names — each key's id and the one place its text
comes from. The keys themselves are read at run time by ``dteg.security.keys``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

DEFAULT_KEY_ID = "k1"
KEY_ID_PATTERN = r"^[A-Za-z0-9_.\-]+$"


class VaultConnection(BaseModel):
    """How to reach Vault. Unset values come from ``VAULT_ADDR`` / ``VAULT_TOKEN`` at run time."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="e.g. https://vault:8200 (VAULT_ADDR)")
    token: SecretStr | None = Field(default=None, description="Vault token (VAULT_TOKEN)")
    namespace: str | None = None
    verify: bool | str = Field(default=True, description="TLS verification or a CA bundle path")
    timeout: float = Field(default=10, gt=0)


class VaultKV(VaultConnection):
    """A key stored in a KV version 2 secret."""

    mount: str = "secret"
    path: str = Field(description="Secret path under the mount, e.g. dteg/keys")
    field: str = Field(default="key", description="The field of the secret holding the key")
    version: int | None = Field(default=None, ge=1, description="Default: the latest")


class VaultTransit(VaultConnection):
    """A key that never leaves Vault: its transit engine encrypts and decrypts."""

    mount: str = "transit"
    key_name: str = Field(description="The transit key's name")


class KeyConfig(BaseModel):
    """One key of a keyring: an id and exactly one source."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default=DEFAULT_KEY_ID, pattern=KEY_ID_PATTERN,
                    description="Written into each encrypted value; pick a new id per key")
    key: SecretStr | None = Field(default=None, description="Key text; use ${env:…}/${file:…}")
    env: str | None = Field(default=None, description="Environment variable read at run time")
    file: str | None = Field(default=None, description="File read at run time")
    vault: VaultKV | None = None
    transit: VaultTransit | None = None

    @model_validator(mode="after")
    def _one_source(self) -> KeyConfig:
        given = [n for n in ("key", "env", "file", "vault", "transit")
                 if getattr(self, n) is not None]
        if len(given) != 1:
            found = f"found {', '.join(given)}" if given else "found none"
            raise ValueError(f"key `{self.id}` needs exactly one of key, env, file, vault, "
                             f"transit ({found})")
        return self

    def source(self) -> str:
        """Where the key comes from, for messages (never the key itself)."""
        if self.env is not None:
            return f"environment variable `{self.env}`"
        if self.file is not None:
            return f"file `{self.file}`"
        if self.vault is not None:
            return f"Vault KV `{self.vault.mount}/{self.vault.path}` field `{self.vault.field}`"
        if self.transit is not None:
            return f"Vault transit key `{self.transit.mount}/{self.transit.key_name}`"
        return "`key:` in the pipeline"
