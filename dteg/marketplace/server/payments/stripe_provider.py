"""Stripe as the payment provider, through Stripe's official Python client (``stripe``).

A customer per organisation (metadata ``dteg_organisation``), an invoice per registry invoice
(``collection_method=send_invoice``: Stripe e-mails it; nothing is charged from here), one
invoice item per line, then ``finalize``. ``api_base`` points the client at another server
speaking Stripe's API (the tests use stripe-mock). The secret key is never logged or put in
an error message.
"""

from __future__ import annotations

from typing import Any

from dteg.marketplace.server.payments.base import PaymentError, ProviderInvoice


class StripeProvider:
    name = "stripe"

    def __init__(self, api_key: str, api_base: str | None = None) -> None:
        try:
            import stripe
        except ImportError:
            raise PaymentError("the Stripe payment provider needs the `stripe` package "
                               "(pip install 'dteg[payments]')") from None
        self._stripe = stripe
        bases: Any = {"api": api_base.rstrip("/")} if api_base else {}
        self._client = stripe.StripeClient(api_key, base_addresses=bases, max_network_retries=2)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._stripe.StripeError as exc:
            detail = exc.user_message or type(exc).__name__
            raise PaymentError(f"Stripe refused {what}: {detail}") from None

    def create_customer(self, organisation: str) -> str:
        customer = self._call("creating a customer", self._client.v1.customers.create,
                              params={"name": organisation,
                                      "metadata": {"dteg_organisation": organisation}})
        return str(customer.id)

    def attach_invoice(self, customer: str, invoice: ProviderInvoice) -> str:
        meta = {"dteg_invoice": invoice.id, "dteg_period": invoice.period}
        created = self._call("creating an invoice", self._client.v1.invoices.create, params={
            "customer": customer, "currency": invoice.currency.lower(),
            "collection_method": "send_invoice", "days_until_due": 30,
            "auto_advance": False, "metadata": meta,
            "description": f"dteg marketplace usage {invoice.period}"})
        for line in invoice.lines:
            self._call("adding an invoice line", self._client.v1.invoice_items.create, params={
                "customer": customer, "invoice": str(created.id),
                "amount": line.amount_cents, "currency": invoice.currency.lower(),
                "description": line.description, "metadata": meta})
        return str(created.id)

    def finalize(self, provider_invoice: str) -> str:
        done = self._call("finalizing the invoice", self._client.v1.invoices.finalize_invoice,
                          provider_invoice)
        return str(done.status or "open")
