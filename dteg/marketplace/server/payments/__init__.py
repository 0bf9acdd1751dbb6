"""Payment providers of the registry: what billing needs from one (``PaymentProvider``), and
``provider_from_env`` to pick the configured one. One real implementation: Stripe through its
official client (``stripe_provider``). Nothing here moves money by itself: an invoice is
created and finalised at the provider, which collects it (or not) by its own rules."""

from __future__ import annotations

import os
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


def provider_from_env() -> PaymentProvider | None:
    """Stripe when ``DTEG_MARKETPLACE_STRIPE_KEY`` is set (``DTEG_MARKETPLACE_STRIPE_URL``:
    another API base, e.g. stripe-mock); else none (invoices stay in the registry)."""
    key = os.environ.get("DTEG_MARKETPLACE_STRIPE_KEY")
    if not key:
        return None
    from dteg.marketplace.server.payments.stripe_provider import StripeProvider

    return StripeProvider(key, os.environ.get("DTEG_MARKETPLACE_STRIPE_URL"))
