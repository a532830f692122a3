"""A subscription business at a month's end, through the real stripe SDK: what makes a
recording depend on the day it was made.

Monthly and yearly plans started on the day (on Jan 31 a month ends on Feb 28, on Feb 29
a year ends on Feb 28), a trial that ends on a chosen date, a billing cycle anchored a few
days ahead (Stripe refuses an anchor in the past), a subscription backdated by a few
days, invoices whose date is a period's end, a later visit that reads it all back, a
trial extended to another subscription's renewal date as an answer gave it, and the
charges since the last hourly sync. Every time the backend sends is absolute, as a backend
computes it from its own clock or copies it from an answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import stripe

from scenarios.demo.driver import CARD_OK, CountingHTTPClient

DAY = 86_400


class BillingBackend:
    """The calls of a small subscription business, grouped by what it is doing."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.stripe = client.v1
        self.cards: dict[str, str] = {}  # customer id → its card's payment method id

    @staticmethod
    def key(name: str) -> stripe.RequestOptions:
        return {"idempotency_key": f"shadow-billing-{name}"}

    def catalogue(self) -> tuple[str, str]:
        product = self.stripe.products.create({"name": "Seats"}, self.key("product"))
        monthly = self.stripe.plans.create(
            {
                "id": "seats-monthly",
                "product": product.id,
                "amount": 1200,
                "currency": "usd",
                "interval": "month",
            },
            self.key("plan-monthly"),
        )
        yearly = self.stripe.plans.create(
            {
                "id": "seats-yearly",
                "product": product.id,
                "amount": 12000,
                "currency": "usd",
                "interval": "year",
            },
            self.key("plan-yearly"),
        )
        return monthly.id, yearly.id

    def customer(self, index: int) -> str:
        """A customer with a card saved as its default payment method (kept in `cards`)."""
        customer = self.stripe.customers.create(
            {"email": f"billing{index}@example{index}.org", "name": f"Team Number{index}"},
            self.key(f"customer-{index}"),
        )
        method = self.stripe.payment_methods.create(
            {
                "type": "card",
                "card": {"number": CARD_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
        self.stripe.payment_methods.attach(method.id, {"customer": customer.id})
        self.stripe.customers.update(
            customer.id, {"invoice_settings": {"default_payment_method": method.id}}
        )
        self.cards[customer.id] = method.id
        return customer.id

    def subscribe(
        self, customer: str, plan: str, name: str, **extra: object
    ) -> stripe.Subscription:
        params = {"customer": customer, "items": [{"plan": plan}], **extra}
        return self.stripe.subscriptions.create(
            params,  # type: ignore[arg-type]
            self.key(f"subscription-{name}"),
        )


def run(
    api_base: str,
    api_key: str,
    http_client: CountingHTTPClient | None = None,
    pause: Callable[[], None] = lambda: None,
) -> int:
    """Drive the billing integration against `api_base`; returns the HTTP requests made.
    `pause` runs where the customer comes back later (the recording tests sleep there)."""
    http_client = http_client or CountingHTTPClient(timeout=30)
    client = stripe.StripeClient(
        api_key, base_addresses={"api": api_base}, max_network_retries=0, http_client=http_client
    )
    backend = BillingBackend(client)
    monthly, yearly = backend.catalogue()
    now = int(time.time())

    # Subscriptions started today: their periods end a calendar month or year away.
    first = backend.customer(0)
    month = backend.subscribe(first, monthly, "monthly")
    second = backend.customer(1)
    year = backend.subscribe(second, yearly, "yearly")
    # Times the backend computes from its own clock.
    third = backend.customer(2)
    trial = backend.subscribe(third, monthly, "trial", trial_end=now + 10 * DAY)
    fourth = backend.customer(3)
    anchored = backend.subscribe(fourth, monthly, "anchored", billing_cycle_anchor=now + 3 * DAY)
    fifth = backend.customer(4)
    backdated = backend.subscribe(fifth, monthly, "backdated", backdate_start_date=now - 5 * DAY)

    # The first invoice of the month, and one drawn up by hand: dated at the period's end.
    assert isinstance(month.latest_invoice, str)
    backend.stripe.invoices.retrieve(month.latest_invoice)
    backend.stripe.invoice_items.create(
        {"customer": first, "amount": 300, "currency": "usd", "description": "Extra seat"},
        backend.key("invoice-item-first"),
    )
    backend.stripe.invoices.create({"customer": first}, backend.key("invoice-first"))
    backend.stripe.invoices.list({"customer": first, "limit": 3})

    pause()  # the customer comes back later

    backend.stripe.subscriptions.retrieve(month.id)
    backend.stripe.subscriptions.retrieve(year.id)
    backend.stripe.subscriptions.retrieve(backdated.id)
    backend.stripe.subscriptions.list({"customer": third})
    # The trial is extended from its recorded end, a date the answer gave; the anchored
    # subscription gets a trial up to the first one's renewal, a date copied from an answer.
    assert trial.trial_end is not None
    backend.stripe.subscriptions.update(
        trial.id, {"trial_end": trial.trial_end + 4 * DAY}, backend.key("trial-extended")
    )
    # localstripe answers in the shape of versions before 2025-03-31.basil: the period
    # is on the subscription, not on its items.
    renewal = backend.stripe.subscriptions.retrieve(month.id)["current_period_end"]
    backend.stripe.subscriptions.update(
        anchored.id, {"trial_end": renewal}, backend.key("trial-to-renewal")
    )
    # A one-off payment, then the charges since the last hourly sync.
    paid = backend.stripe.payment_intents.create(
        {
            "amount": 500,
            "currency": "usd",
            "customer": first,
            "payment_method": backend.cards[first],
            "confirm": True,
        },
        backend.key("payment-first"),
    )
    backend.stripe.charges.list({"customer": first, "created": {"gt": now - 3_600}})
    backend.stripe.payment_intents.retrieve(paid.id)
    backend.stripe.subscriptions.cancel(backdated.id)
    return http_client.requests_sent
