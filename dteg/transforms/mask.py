"""Column masking over Arrow batches: hash (HMAC-SHA256), redact, partial, email, null,
tokenize (AES-SIV: deterministic and reversible with the key, see ``dteg.security.cipher``).

``RowMasker`` applies the same strategies — and the pipeline's encryption — to a single row;
the compiler hands it to every stage so dead-lettered records are protected exactly like
loaded ones.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from dteg.components.contracts import BatchTransform, RunContext, StageResult
from dteg.errors import StepError
from dteg.security.keys import LocalKey
from dteg.spec.masking import REDACTED, ColumnMask
from dteg.transforms.mask_config import MaskConfig

if TYPE_CHECKING:
    from dteg.transforms.encrypt import EncryptConfig


def _key_bytes(config: MaskConfig) -> bytes:
    return config.key.get_secret_value().encode("utf-8") if config.key else b""


def _hash_value(key: bytes, value: str) -> str:
    if key:
        return hmac.digest(key, value.encode("utf-8"), "sha256").hex()
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def mask_value(mask: ColumnMask, key: bytes, value: Any,
               token_key: LocalKey | None = None) -> Any:
    """Mask one value (the row-at-a-time twin of ``mask_array``)."""
    if value is None or mask.strategy == "null":
        return None
    text = value if isinstance(value, str) else str(value)
    if mask.strategy == "tokenize":
        from dteg.security.cipher import tokenize_texts

        assert token_key is not None, "MaskConfig checks that tokenize has a key"
        return tokenize_texts(token_key, [text])[0]
    if mask.strategy == "hash":
        return _hash_value(key, text)
    if mask.strategy == "redact":
        return mask.replacement
    if mask.strategy == "partial":
        kept = _partial_tail(text, mask.keep)
        return "*" * (len(text) - len(kept)) + kept
    if mask.strategy == "email":
        _, at, domain = text.rpartition("@")
        return f"{REDACTED}@{domain}" if at else REDACTED
    raise AssertionError(mask.strategy)


def _partial_pattern(keep: int) -> str:
    # The tail holds exactly `keep` non-space characters (spaces between them stay); the head
    # must hold at least one more, or the value would be shown whole.
    between = rf"(?:\s*\S){{{keep - 1}}}" if keep > 1 else ""
    return rf"(?s)^(?P<head>.*?\S.*?)(?P<tail>\S{between}\s*)$"


def _partial_tail(text: str, keep: int) -> str:
    """What ``partial`` shows of ``text``: the end holding its last ``keep`` non-space
    characters (``+33 6 12 34 56 78``, keep 4 → ``56 78``); nothing when the value has no
    more than ``keep`` of them (it would be shown whole)."""
    if not keep:
        return ""
    import re

    found = re.match(_partial_pattern(keep), text)
    return found["tail"] if found else ""


# Up to this many rows per stage are hashed in Python before DuckDB takes over.
SMALL_INPUT = 20_000


class ColumnHasher:
    """HMAC-SHA256 (hex) of a whole column, computed inside DuckDB: about 2× faster than a
    Python loop over ``hmac.digest`` and identical to it (HMAC written out as two SHA-256
    passes over the padded key, RFC 2104)."""

    _BLOCK = 64

    def __init__(self, key: bytes) -> None:
        padded = (hashlib.sha256(key).digest() if len(key) > self._BLOCK else key)
        padded = padded.ljust(self._BLOCK, b"\0")
        self.inner = bytes(b ^ 0x36 for b in padded)
        self.outer = bytes(b ^ 0x5C for b in padded)
        self.keyed = bool(key)
        self.key = key
        self._in_python = 0
        self._con: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_con": None}

    def hash(self, text: pa.Array) -> pa.Array:
        if self._con is None and self._in_python + len(text) <= SMALL_INPUT:
            # DuckDB's import and connection (≈ 0.1 s) outweigh a short Python loop; the
            # first rows of a run are hashed in Python, the rest (if many) in DuckDB.
            self._in_python += len(text)
            return pa.array([None if v is None else _hash_value(self.key, v)
                             for v in text.to_pylist()], pa.string())
        import duckdb

        from dteg.connectors.duckdb.arrow import relation_table

        if self._con is None:
            self._con = duckdb.connect(config={"threads": min(os.cpu_count() or 1, 4)})
        self._con.register("masked_column", pa.table({"v": text}))
        try:
            if self.keyed:
                sql = (f"SELECT sha256({_blob(self.outer)} || "
                       f"unhex(sha256({_blob(self.inner)} || encode(v)))) AS h FROM masked_column")
            else:
                sql = "SELECT sha256(encode(v)) AS h FROM masked_column"
            return relation_table(self._con.sql(sql)).column("h").combine_chunks()
        finally:
            self._con.unregister("masked_column")


def _blob(data: bytes) -> str:
    return "'" + "".join(f"\\x{b:02X}" for b in data) + "'::BLOB"


def mask_array(mask: ColumnMask, key: bytes, column: pa.Array,
               hasher: ColumnHasher | None = None,
               token_key: LocalKey | None = None) -> pa.Array:
    if mask.strategy == "null":
        return pa.nulls(len(column), column.type)
    text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    if mask.strategy == "tokenize":
        from dteg.security.cipher import tokenize_texts

        assert token_key is not None, "MaskConfig checks that tokenize has a key"
        return pa.array(tokenize_texts(token_key, text.to_pylist()), pa.string())
    if mask.strategy == "hash":
        if hasher is not None:
            return hasher.hash(text)
        return pa.array([None if v is None else _hash_value(key, v) for v in text.to_pylist()],
                        pa.string())
    if mask.strategy == "redact":
        return pc.if_else(pc.is_null(text), pa.scalar(None, pa.string()), mask.replacement)
    if mask.strategy == "partial":
        length = pc.utf8_length(text)
        if not mask.keep:
            return pc.binary_repeat(pa.scalar("*"), length)
        found = pc.extract_regex(text, _partial_pattern(mask.keep))
        tail = pc.fill_null(pc.struct_field(found, "tail"), "")
        stars = pc.binary_repeat(pa.scalar("*"), pc.subtract(length, pc.utf8_length(tail)))
        return pc.binary_join_element_wise(stars, tail, "")
    if mask.strategy == "email":
        has_at = pc.match_substring(text, "@")
        masked = pc.replace_substring_regex(text, r"^.*@", f"{REDACTED}@")
        return pc.if_else(has_at, masked, pc.if_else(pc.is_null(text), text, REDACTED))
    raise AssertionError(mask.strategy)


class RowMasker:
    """Masks one row (column → value) like the pipeline's mask and encrypt steps. Picklable:
    keys are resolved on first use on each worker."""

    def __init__(self, configs: list[MaskConfig],
                 encrypt: list[EncryptConfig] | None = None,
                 base_dir: Path | None = None) -> None:
        self.configs = list(configs)
        self.base_dir = base_dir
        self.columns: dict[str, tuple[ColumnMask, bytes, int]] = {}
        for index, config in enumerate(configs):
            key = _key_bytes(config)
            for column, mask in config.plan().items():
                self.columns[column] = (mask, key, index)
        self.encrypt = list(encrypt or [])
        self.encrypted = {c: i for i, e in enumerate(self.encrypt) for c in e.columns}
        self._keys: dict[tuple[str, int], Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_keys": {}}

    def _token_key(self, index: int) -> LocalKey | None:
        if ("mask", index) not in self._keys:
            self._keys[("mask", index)] = self.configs[index].token_key()
        return self._keys[("mask", index)]

    def _encrypt(self, column: str, value: Any) -> Any:
        from dteg.security.cipher import encrypt_texts
        from dteg.security.keys import Keyring
        from dteg.transforms.encrypt import as_text

        index = self.encrypted[column]
        if ("encrypt", index) not in self._keys:
            ring = Keyring.load(self.encrypt[index].keyring_configs(), base_dir=self.base_dir)
            self._keys[("encrypt", index)] = ring.encrypting
        text = value if isinstance(value, str) else as_text(pa.array([value]))[0]
        return encrypt_texts(self._keys[("encrypt", index)], [text])[0]

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for column, value in row.items():
            if column in self.encrypted and value is not None:
                out[column] = self._encrypt(column, value)
            elif column in self.columns:
                mask, key, index = self.columns[column]
                token = self._token_key(index) if mask.strategy == "tokenize" else None
                out[column] = mask_value(mask, key, value, token)
            else:
                out[column] = value
        return out


class Mask(BatchTransform):
    def __init__(self, config: MaskConfig, ctx: RunContext) -> None:
        self.ctx = ctx
        self.plan = config.plan()
        self.key = _key_bytes(config)
        self.missing = config.missing
        self.hasher = ColumnHasher(self.key)
        self.config = config
        self._token_key: LocalKey | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_token_key": None, "_row_masker": None}

    def setup(self) -> None:
        self._token_key = self.config.token_key()

    def mask_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A dead-letter row of an earlier step, masked the way this step masks columns."""
        if getattr(self, "_row_masker", None) is None:
            self._row_masker = RowMasker([self.config], base_dir=self.ctx.base_dir)
        return self._row_masker(row)

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        absent = [c for c in self.plan if c not in batch.schema.names]
        if absent and self.missing == "error":
            raise StepError(
                f"cannot mask column(s) {absent}: the data has no such column "
                f"(columns: {batch.schema.names})", step=self.ctx.step,
                hint="Fix the names (they are case-sensitive), or set `missing: ignore` when "
                "some inputs lack them.",
            )
        arrays = list(batch.columns)
        fields = list(batch.schema)
        for i, name in enumerate(batch.schema.names):
            mask = self.plan.get(name)
            if mask is None:
                continue
            if mask.strategy == "tokenize" and self._token_key is None:
                self.setup()
            arrays[i] = mask_array(mask, self.key, batch.column(i), self.hasher,
                                   self._token_key)
            fields[i] = pa.field(name, arrays[i].type, nullable=True)
        return StageResult(kept=pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields)))


def create(config: MaskConfig, ctx: RunContext) -> Mask:
    return Mask(config, ctx)
