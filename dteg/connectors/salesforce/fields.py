"""The object's fields, read before any record is sent (``GET …/sobjects/{object}/describe``),
and the CSV header the load will send: columns renamed by ``fields:`` (``null`` drops one),
then matched to fields case-insensitively and spelled as Salesforce spells them.

What Salesforce would refuse is said first, as one paragraph naming the step and its line:
a column that matches no field fails the whole job in Salesforce, so it is an error before
any job is created; a field the operation cannot set (``Id`` on an insert) and a masked or
encrypted value going into a field that checks its values (Email, Phone) make Salesforce
refuse every record, so they are warnings with the fix (the run goes on; the refusals come
back as dead letters with Salesforce's error, and the counts reconcile)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dteg.errors import ConnectorError

# Field types whose values Salesforce checks or bounds tightly: a dteg:v1: ciphertext, a hash
# or a token is refused there (an invalid address, a phone longer than 40, not a number …).
TYPED = ("email", "phone", "url", "date", "datetime", "time", "double", "int", "long",
         "currency", "percent", "boolean", "reference")


@dataclass(frozen=True)
class SfField:
    name: str
    type: str
    createable: bool
    updateable: bool
    external_id: bool

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> SfField:
        return cls(str(raw["name"]), str(raw.get("type") or "string"),
                   bool(raw.get("createable")), bool(raw.get("updateable")),
                   bool(raw.get("externalId")))


def parse_describe(body: Mapping[str, Any]) -> dict[str, SfField]:
    """Lower-cased name → field, from a describe answer."""
    return {str(f["name"]).lower(): SfField.of(f) for f in body.get("fields") or []}


def renamed(columns: list[str], mapping: Mapping[str, str | None] | None
            ) -> list[tuple[str, str | None]]:
    """Each column with the name it is sent under (None: dropped), by ``fields:`` — the exact
    name first, else case-insensitively."""
    if not mapping:
        return [(c, c) for c in columns]
    lower = {k.lower(): v for k, v in mapping.items()}
    return [(c, mapping[c] if c in mapping else lower.get(c.lower(), c)) for c in columns]


@dataclass(frozen=True)
class Header:
    names: list[str]  # as Salesforce spells them, in CSV order
    warnings: list[str]


def check_header(header: list[str], *, columns: list[str], fields: dict[str, SfField],
                 obj: str, operation: str, external_id: str | None,
                 mapping: Mapping[str, str | None] | None, protected: frozenset[str],
                 step: str, where: str) -> Header:
    """The header to send, or a ``ConnectorError`` for what would fail the job."""
    sent_from = {new: col for col, new in renamed(columns, mapping) if new is not None}
    label = where or f"step `{step}`"
    unknown = [h for h in header if h.lower() not in fields]
    if unknown:
        names = sorted(f.name for f in fields.values())
        listed = "; ".join(_unknown(h, sent_from.get(h, h), names) for h in unknown)
        raise ConnectorError(
            f"{len(unknown)} column(s) match no field of Salesforce {obj}: {listed}. "
            "Salesforce fails the whole job on such a column, so no record was sent",
            step=step, hint="Map each to a field of the object with `fields:` in the load's "
            "config (`fields: {column: Field__c}`), or drop it (`fields: {column: null}`).")
    names = [fields[h.lower()].name for h in header]
    if operation == "upsert" and external_id:
        key = fields.get(external_id.lower())
        if key is None or not key.external_id:
            known = [f.name for f in fields.values() if f.external_id]
            raise ConnectorError(
                f"`external_id_field: {external_id}` is not an external id field of "
                f"Salesforce {obj} (its external id fields: {', '.join(known) or 'none'})",
                step=step, hint="Name an External ID field of the object, or create one in "
                "Setup → Object Manager.")
        if key.name not in names:
            raise ConnectorError(
                f"no column is sent as `{key.name}`, the upsert's external id field "
                f"(the columns go out as {', '.join(names) or 'nothing'})", step=step,
                hint=f"Map the key column to it: `fields: {{id: {key.name}}}`.")
    warnings = [w for sent in header for w in _warnings(
        fields[sent.lower()], sent_from.get(sent, sent), obj, operation, external_id,
        fields, protected, label)]
    return Header(names, warnings)


def _unknown(sent: str, column: str, names: list[str]) -> str:
    close = difflib.get_close_matches(sent, names, n=1, cutoff=0.6)
    was = f" (column `{column}`)" if column != sent else ""
    return f"`{sent}`{was}" + (f" (closest field: `{close[0]}`)" if close else "")


def _warnings(field: SfField, column: str, obj: str, operation: str,
              external_id: str | None, fields: dict[str, SfField], protected: frozenset[str],
              label: str) -> list[str]:
    out = []
    ext = [f.name for f in fields.values() if f.external_id]
    settable = {"insert": field.createable, "update": field.updateable or field.name == "Id",
                "upsert": field.createable or field.updateable
                or field.name.lower() == (external_id or "").lower(),
                "delete": field.name == "Id"}.get(operation, True)
    if not settable and operation != "delete":
        target = ext[0] if ext else "External_Id__c"
        out.append(
            f"{label}: column `{column}` goes to `{obj}.{field.name}`, which an {operation} "
            f"cannot set, so Salesforce will refuse every record "
            "(INVALID_FIELD_FOR_INSERT_UPDATE). Map it to an external id field and upsert "
            f"on it (`fields: {{{column}: {target}}}`, `operation: upsert`, "
            f"`external_id_field: {target}`), or drop it (`fields: {{{column}: null}}`).")
    if column in protected and field.type in TYPED:
        out.append(
            f"{label}: column `{column}` is masked or encrypted before the load but goes to "
            f"`{obj}.{field.name}`, a {field.type} field that refuses such values, so "
            "Salesforce will refuse every record with a value there. Map it to a text field "
            f"(`fields: {{{column}: Encrypted_{field.name}__c}}`, a Text(255) custom field).")
    return out
