"""The ``encrypt`` and ``decrypt`` stages: AES-256-GCM per value, self-describing output.

``encrypt`` replaces each value of the named columns with ``dteg:v1:<key id>:<base64>`` (see
``dteg.security.cipher``), encrypting with the first key of the keyring. ``decrypt`` reads
``dteg:v1:`` values and ``dteg:tok:`` tokens back with whichever key of its keyring the value
names, and casts the text back to a declared type (``types:``). A value that cannot be
decrypted — wrong key, altered, malformed — fails the run with the column's name
(``on_error: fail``, the default) or goes to the dead-letter output (``on_error: quarantine``).

With ``key_per: <column>`` each row is sealed with its subject's own data key (from the
subject keystore, ``dteg.security.subject_keys``), so erasing a subject is destroying one key.
``decrypt`` opens such values through the keystore; a destroyed key gives null (counted as
shredded, never an error).
"""

from __future__ import annotations

from pathlib import Path
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
from dteg.security.subject_keys import SubjectKeystore, keystore_path
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
        self._keystore_setting: str | None = getattr(config, "keystore", None)
        self._keystore: SubjectKeystore | None = None

    def __getstate__(self) -> dict[str, Any]:
        # ciphers and the keystore connection are built on each worker
        return {**self.__dict__, "_ring": None, "_keystore": None}

    @property
    def keystore_file(self) -> Path:
        return keystore_path(self.ctx.base_dir, self._keystore_setting)

    def keystore(self, *, create: bool) -> SubjectKeystore | None:
        """The subject keystore (None when it does not exist and ``create`` is false)."""
        if self._keystore is None and (create or self.keystore_file.exists()):
            self._keystore = SubjectKeystore(self.keystore_file, self.ring)
        return self._keystore

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
        self.key_per = config.key_per

    def mask_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A dead-letter row of an earlier step, with this step's columns encrypted."""
        names = [c for c in self.columns if row.get(c) is not None]
        # Only the columns this needs (the rest of a dead-letter row may not fit Arrow).
        needed = {c: row.get(c) for c in [*names, *([self.key_per] if self.key_per else [])]}
        sealed = self._sealed(pa.RecordBatch.from_pylist([needed]), names)
        return {**row, **{c: v[0] for c, v in sealed.items()}}

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        for name, values in self._sealed(batch, self._present(batch, "encrypt")).items():
            index = batch.schema.get_field_index(name)
            batch = batch.set_column(index, pa.field(name, pa.string()),
                                     pa.array(values, pa.string()))
        return StageResult(kept=batch)

    def _sealed(self, batch: pa.RecordBatch, names: list[str]) -> dict[str, list[str | None]]:
        """column → its ciphertexts: under the keyring's key, or (``key_per``) each row under
        its subject's key."""
        from dteg.security.cipher import encrypt_texts

        if self.key_per is None:
            key = self.ring.encrypting
            return {n: encrypt_texts(key, as_text(batch.column(n))) for n in names}
        if self.key_per not in batch.schema.names:
            raise StepError(
                f"`key_per: {self.key_per}` names a column the data does not have "
                f"(columns: {batch.schema.names})", step=self.ctx.step,
                hint="Name the column that identifies the data subject (case-sensitive).")
        subjects = as_text(batch.column(self.key_per))
        groups: dict[str | None, list[int]] = {}
        for i, subject in enumerate(subjects):
            groups.setdefault(subject, []).append(i)
        store = self.keystore(create=True)
        assert store is not None
        out: dict[str, list[str | None]] = {}
        for name in names:
            texts = as_text(batch.column(name))
            values: list[str | None] = [None] * len(texts)
            for subject, rows in groups.items():
                # A row without a subject has no one to erase it for: the step's own key.
                key = self.ring.encrypting if subject is None else \
                    store.key_for(self.key_per, subject)
                for i, sealed in zip(rows, encrypt_texts(key, [texts[i] for i in rows]),
                                     strict=True):
                    values[i] = sealed
            out[name] = values
        return out


class Decrypt(_Keyed):
    """Reads ``dteg:v1:`` values and ``dteg:tok:`` tokens back to text (or ``types:``)."""

    def __init__(self, config: DecryptConfig, ctx: RunContext) -> None:
        super().__init__(config, ctx, config.columns, config.missing)
        self.types = {c: parse_type(t) for c, t in config.types.items()}
        self.on_error = config.on_error
        self.shredded = 0  # values whose subject was erased (null), on this worker

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
            result = decrypt_texts(self.ring, column.to_pylist(),
                                   self.keystore(create=False))
            self.shredded += len(result.shredded)
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
