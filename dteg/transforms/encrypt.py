"""The ``encrypt`` and ``decrypt`` stages: AES-256-GCM per value, self-describing output.

``encrypt`` replaces each value of the named columns with ``dteg:v1:<key id>:<base64>`` (see
``dteg.security.cipher``), encrypting with the first key of the keyring. ``decrypt`` reads
``dteg:v1:`` values and ``dteg:tok:`` tokens back with whichever key of its keyring the value
names, and casts the text back to a declared type (``types:``). A value that cannot be
decrypted — wrong key, altered, malformed — fails the run with the column's name
(``on_error: fail``, the default) or goes to the dead-letter output (``on_error: quarantine``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dteg.components.contracts import BatchTransform, RunContext, StageResult
from dteg.components.records import dead_letters, row_json, sources_of
from dteg.components.types import parse_type
from dteg.errors import StepError
from dteg.security.keys import (
    Keyring,
)
from dteg.transforms.encrypt_config import DecryptConfig, EncryptConfig, KeyedConfig


def as_text(column: pa.Array) -> list[str | None]:
    """A column's values as text, the form that is encrypted."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_pylist()
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        return [None if v is None else v.hex() for v in column.to_pylist()]
    return pc.cast(column, pa.string()).to_pylist()


class _Keyed(BatchTransform):
    def __init__(self, config: KeyedConfig, ctx: RunContext, columns: list[str],
                 missing: str) -> None:
        self.ctx = ctx
        self.columns = columns
        self.missing = missing
        self._configs = config.keyring_configs()
        self._ring: Keyring | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_ring": None}  # ciphers are built on each worker

    def setup(self) -> None:
        _ = self.ring  # resolve keys once per worker, before the first batch

    @property
    def ring(self) -> Keyring:
        if self._ring is None:
            self._ring = Keyring.load(self._configs, base_dir=self.ctx.base_dir)
        return self._ring

    def _present(self, batch: pa.RecordBatch, verb: str) -> list[str]:
        absent = [c for c in self.columns if c not in batch.schema.names]
        if absent and self.missing == "error":
            raise StepError(
                f"cannot {verb} column(s) {absent}: the data has no such column "
                f"(columns: {batch.schema.names})", step=self.ctx.step,
                hint="Fix the names (they are case-sensitive), or set `missing: ignore`.")
        return [c for c in self.columns if c in batch.schema.names]


class Encrypt(_Keyed):
    """Replaces each value of ``columns`` with its ``dteg:v1:`` ciphertext (nulls stay null)."""

    def __init__(self, config: EncryptConfig, ctx: RunContext) -> None:
        super().__init__(config, ctx, config.columns, config.missing)
        self.config = config

    def mask_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A dead-letter row of an earlier step, with this step's columns encrypted."""
        from dteg.security.cipher import encrypt_texts

        out = dict(row)
        for column in self.columns:
            value = out.get(column)
            if value is not None:
                text = value if isinstance(value, str) else as_text(pa.array([value]))[0]
                out[column] = encrypt_texts(self.ring.encrypting, [text])[0]
        return out

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        from dteg.security.cipher import encrypt_texts

        key = self.ring.encrypting
        for name in self._present(batch, "encrypt"):
            index = batch.schema.get_field_index(name)
            sealed = pa.array(encrypt_texts(key, as_text(batch.column(index))), pa.string())
            batch = batch.set_column(index, pa.field(name, pa.string()), sealed)
        return StageResult(kept=batch)


class Decrypt(_Keyed):
    """Reads ``dteg:v1:`` values and ``dteg:tok:`` tokens back to text (or ``types:``)."""

    def __init__(self, config: DecryptConfig, ctx: RunContext) -> None:
        super().__init__(config, ctx, config.columns, config.missing)
        self.types = {c: parse_type(t) for c, t in config.types.items()}
        self.on_error = config.on_error

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        from dteg.security.cipher import decrypt_texts

        bad: dict[int, tuple[str, str]] = {}
        plain: dict[str, pa.Array] = {}
        for name in self._present(batch, "decrypt"):
            column = batch.column(name)
            if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                raise StepError(
                    f"column `{name}` is {column.type}, not text, so it holds no encrypted "
                    "values", step=self.ctx.step,
                    hint="Decrypt only columns an `encrypt` step (or tokenize) wrote.")
            result = decrypt_texts(self.ring, column.to_pylist())
            if result.failures and self.on_error == "fail":
                first, reason = next(iter(result.failures.items()))
                raise StepError(
                    f"{len(result.failures)} value(s) of column "
                    f"`{name}` could not be decrypted; the first (row {first + 1} of this "
                    f"batch): {reason}", step=self.ctx.step,
                    hint="Check that the keyring holds the key the values were encrypted with "
                    "(their key id is after `dteg:v1:`), or set `on_error: quarantine` to "
                    "dead-letter such rows.")
            for index, reason in result.failures.items():
                bad.setdefault(index, (name, reason))
            plain[name] = self._typed(name, pa.array(result.values, pa.string()))
        for name, values in plain.items():
            index = batch.schema.get_field_index(name)
            batch = batch.set_column(index, pa.field(name, values.type), values)
        if not bad:
            return StageResult(kept=batch)
        failed = pa.array([i in bad for i in range(batch.num_rows)], pa.bool_())
        failed_rows = batch.filter(failed)
        rows = failed_rows.to_pylist()
        labels = [bad[i] for i in sorted(bad)]
        rejected = dead_letters(
            pipeline=self.ctx.pipeline, step=self.ctx.step,
            reasons=[f"`{col}` could not be decrypted: {why}" for col, why in labels],
            rules=["decrypt"] * len(labels), columns=[col for col, _ in labels],
            records=[row_json(r, self.ctx.mask_row) for r in rows],
            sources=sources_of(failed_rows))
        return StageResult(kept=batch.filter(pc.invert(failed)), rejected=rejected)

    def _typed(self, name: str, values: pa.Array) -> pa.Array:
        target = self.types.get(name)
        if target is None:
            return values
        try:
            return pc.cast(values, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # Arrow's message quotes the value: plaintext, so it is left out.
            raise StepError(
                f"decrypted values of `{name}` cannot be read as {target}", step=self.ctx.step,
                hint=f"Fix `types: {{{name}: …}}` to the column's type before encryption.",
            ) from None


def create_encrypt(config: EncryptConfig, ctx: RunContext) -> Encrypt:
    """The registry's factory for ``encrypt`` steps."""
    return Encrypt(config, ctx)


def create_decrypt(config: DecryptConfig, ctx: RunContext) -> Decrypt:
    """The registry's factory for ``decrypt`` steps."""
    return Decrypt(config, ctx)
