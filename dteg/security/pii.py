"""Does a column look like personal data? Heuristics over a sample of its values.

A column is flagged with a kind (email, phone, card number, US SSN, Korean resident
registration number) when at least half of its non-empty sampled values match that kind.
Checks are on values, not names, so a masked column (``***@example.com``, a hash, a
``dteg:v1:`` ciphertext) is not flagged. Heuristics: a false positive names the column and the
fix, a false negative is possible (a phone number written without separators, say).

Person names are guessed too (``looks_like_person_names``), from the column's name or from
values of 2–4 capitalised words; that guess is weaker, so only ``dteg profile`` reports it
(the restricted-access guard does not refuse a run on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

MIN_SHARE = 0.5
SAMPLE = 256


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of digits (card numbers)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if index % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?[\d\s().\-]{7,24}")
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_CARD = re.compile(r"\d(?:[ \-]?\d){12,18}")
_SSN = re.compile(r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}")
_KR_RRN = re.compile(r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])-?[1-8]\d{6}")


def _is_phone(text: str) -> bool:
    if not _PHONE.fullmatch(text) or _DOTTED_QUAD.fullmatch(text):
        return False
    digits = sum(c.isdigit() for c in text)
    separators = sum(c in " ().-" for c in text)
    # Dates (2024-01-15) have 8 digits; amounts (1520.50) one separator.
    return 9 <= digits <= 15 and (text.startswith("+") or separators >= 2)


def _is_card(text: str) -> bool:
    if not _CARD.fullmatch(text):
        return False
    digits = "".join(c for c in text if c.isdigit())
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


@dataclass(frozen=True)
class Kind:
    """A kind of personal data: how to recognise it and how to mask it."""

    name: str
    label: str
    matches: Callable[[str], bool]
    suggestion: str | dict[str, Any]


# Most specific first: an SSN also looks like a phone number, a card number like digits.
KINDS: tuple[Kind, ...] = (
    Kind("email", "email addresses", lambda t: bool(_EMAIL.fullmatch(t)), "hash"),
    Kind("card_number", "card numbers (Luhn-valid)", _is_card,
         {"strategy": "partial", "keep": 4}),
    Kind("us_ssn", "US social security numbers", lambda t: bool(_SSN.fullmatch(t)), "redact"),
    Kind("kr_rrn", "Korean resident registration numbers",
         lambda t: bool(_KR_RRN.fullmatch(t)), "redact"),
    Kind("phone", "phone numbers", _is_phone, {"strategy": "partial", "keep": 4}),
)
KINDS_BY_NAME = {k.name: k for k in KINDS}

_NAME_COLUMN = re.compile(
    r"(?:(?:first|last|full|given|family|middle|customer|client|contact|person|user|"
    r"display|sur)_?)?name", re.IGNORECASE)
# A capitalised word (any script with case: José, Müller, O'Neil, Jean-Luc) …
_WORD = r"[^\W\d_][^\W\d_'\-]*(?:['\-][^\W\d_]+)*"
_CAPITALISED = re.compile(rf"(?:{_WORD})(?:\s+{_WORD}){{1,3}}")
# … or, in a column named like a name, any letters (김민지, a single given name).
_LETTERS = re.compile(r"[^\W\d_](?:[^\W\d_]|[\s'.\-])*")


def _capitalised_words(text: str) -> bool:
    return bool(_CAPITALISED.fullmatch(text)) and all(
        w[0].isupper() and not w.isupper() for w in text.split())


def _person_name_value(text: str, named: bool) -> bool:
    if len(text) > 60:
        return False
    return _capitalised_words(text) or (named and bool(_LETTERS.fullmatch(text)))


PERSON_NAME = Kind("person_name", "person names", lambda t: _person_name_value(t, False),
                   "hash")


def looks_like_person_names(column: str, values: Sequence[str]) -> PiiMatch | None:
    """Person names: a column named like one (``name``, ``first_name``, ``customer_name``…)
    whose values are letters, or values that are mostly 2–4 capitalised words. Masked values
    (hashes, ``***``, tokens) have digits or symbols, so they are not flagged."""
    texts = [v.strip() for v in values if v and v.strip()]
    if not texts:
        return None
    named = bool(_NAME_COLUMN.fullmatch(column.strip()))
    matched = sum(1 for t in texts if _person_name_value(t, named))
    # Without the column's name to go by, most values must look like names, and mostly
    # different ones (a column of a few cities or product names repeats its values).
    share = MIN_SHARE if named else 0.8
    if not named and len(set(texts)) < len(texts) / 2:
        return None
    return PiiMatch(PERSON_NAME, matched, len(texts)) if matched / len(texts) >= share else None


@dataclass(frozen=True)
class PiiMatch:
    kind: Kind
    matched: int
    checked: int

    @property
    def share(self) -> float:
        return self.matched / self.checked if self.checked else 0.0

    def describe(self) -> str:
        return f"{self.kind.label}: {self.matched} of {self.checked} sampled values"


def classify_values(values: Sequence[str]) -> PiiMatch | None:
    """The most specific kind that at least ``MIN_SHARE`` of ``values`` match, if any."""
    texts = [v.strip() for v in values if v and v.strip()]
    if not texts:
        return None
    for kind in KINDS:
        matched = sum(1 for t in texts if kind.matches(t))
        if matched / len(texts) >= MIN_SHARE:
            return PiiMatch(kind, matched, len(texts))
    return None


def classify_column(column: pa.Array | pa.ChunkedArray, sample: int = SAMPLE
                    ) -> PiiMatch | None:
    """Classify a text column (integer columns are checked for card numbers only)."""
    t = column.type
    if isinstance(column, pa.ChunkedArray):
        column = column.slice(0, sample).combine_chunks()
    else:
        column = column.slice(0, sample)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return classify_values(column.drop_null().to_pylist())
    if pa.types.is_integer(t):
        texts = pc.cast(column.drop_null(), pa.string()).to_pylist()
        found = classify_values(texts)
        return found if found is not None and found.kind.name == "card_number" else None
    return None


def classify_batch(batch: pa.RecordBatch | pa.Table, sample: int = SAMPLE
                   ) -> dict[str, PiiMatch]:
    """Every column of ``batch`` that looks like personal data."""
    found = {}
    for name in batch.schema.names:
        match = classify_column(batch.column(name), sample)
        if match is not None:
            found[name] = match
    return found
