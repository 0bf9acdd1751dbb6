"""What billing needs from a payment provider, and what it hands one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    amount_cents: int


@dataclass(frozen=True)
class ProviderInvoice:
    """An invoice of the registry as a provider sees it."""

    id: str
    organisation: str
    period: str
    currency: str
    lines: tuple[InvoiceLine, ...]


class PaymentProvider(Protocol):
    """Create a customer for an organisation, attach an invoice with its lines, finalise it."""

    name: str

    def create_customer(self, organisation: str) -> str:
        """The provider's id of a new customer for ``organisation``."""
        ...

    def attach_invoice(self, customer: str, invoice: ProviderInvoice) -> str:
        """Create the invoice and its lines at the provider; returns its id there."""
        ...

    def finalize(self, provider_invoice: str) -> str:
        """Finalise it (no more changes; the provider sends or collects it); its status."""
        ...


class PaymentError(Exception):
    """The provider refused or did not answer (the message holds no secret)."""
