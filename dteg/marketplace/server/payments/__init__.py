"""Payment providers of the registry: what billing needs from one (``PaymentProvider``), and
``provider_from_env`` to pick the configured one. One real implementation: Stripe through its
official client (``stripe_provider``). Nothing here moves money by itself: an invoice is
created and finalised at the provider, which collects it (or not) by its own rules."""

from __future__ import annotations

import os

from dteg.marketplace.server.payments.base import (
    InvoiceLine,
    PaymentError,
    PaymentProvider,
    ProviderInvoice,
)

__all__ = ["InvoiceLine", "PaymentError", "PaymentProvider", "ProviderInvoice",
           "provider_from_env"]


def provider_from_env() -> PaymentProvider | None:
    """Stripe when ``DTEG_MARKETPLACE_STRIPE_KEY`` is set (``DTEG_MARKETPLACE_STRIPE_URL``:
    another API base, e.g. stripe-mock); else none (invoices stay in the registry)."""
    key = os.environ.get("DTEG_MARKETPLACE_STRIPE_KEY")
    if not key:
        return None
    from dteg.marketplace.server.payments.stripe_provider import StripeProvider

    return StripeProvider(key, os.environ.get("DTEG_MARKETPLACE_STRIPE_URL"))
