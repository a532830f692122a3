"""A Charges-era integration: what a backend that predates PaymentIntents asks of Stripe,
through the real stripe SDK.

Customers with saved cards, one-off charges with descriptions, statement descriptors
and metadata, a charge authorised now and partly captured later, a declined charge,
reads of a charge before and after a refund, a full refund, a metadata update and a
customer's list of charges. Every write carries the backend's own idempotency key.
"""

from __future__ import annotations

from typing import Any

import stripe

from scenarios.demo.driver import CountingHTTPClient, expect_error, sdk_client

CARD_OK = "4242424242424242"
CARD_MASTERCARD = "5555555555554444"
CARD_DECLINED_ON_CHARGE = "4000000000000341"  # attaches fine, declined when charged


class ChargesBackend:
    """The calls a shop built on the Charges API makes."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.stripe = client.v1

    @staticmethod
    def key(name: str) -> stripe.RequestOptions:
        return {"idempotency_key": f"shadow-charges-{name}"}

    def customer(self, index: int, card: str) -> tuple[str, str]:
        """A customer with a saved card; returns (customer id, payment method id)."""
        customer = self.stripe.customers.create(
            {"email": f"buyer{index}@example{index}.org", "name": f"Buyer Number{index}"},
            self.key(f"customer-{index}"),
        )
        method = self.stripe.payment_methods.create(
            {
                "type": "card",
                "card": {"number": card, "exp_month": 11, "exp_year": 2033, "cvc": "123"},
            }
        )
        self.stripe.payment_methods.attach(method.id, {"customer": customer.id})
        return customer.id, method.id

    def charge(
        self, name: str, customer: tuple[str, str], amount: int, **extra: Any
    ) -> stripe.Charge:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": "usd",
            "customer": customer[0],
            "source": customer[1],
            **extra,
        }
        return self.stripe.charges.create(params, self.key(name))  # type: ignore[arg-type]

    def shop(self) -> None:
        buyer = self.customer(0, CARD_OK)
        second = self.customer(1, CARD_MASTERCARD)
        failing = self.customer(2, CARD_DECLINED_ON_CHARGE)

        order = self.charge(
            "order-1001",
            buyer,
            2000,
            description="Order 1001",
            statement_descriptor="SHADOW SHOP 1001",
            metadata={"order_id": "1001"},
        )
        other = self.charge(
            "order-1002", second, 3500, description="Order 1002", metadata={"order_id": "1002"}
        )

        # Authorise now, capture part of it when the order ships.
        held = self.charge("order-1003", buyer, 8000, capture=False, description="Order 1003")
        self.stripe.charges.capture(held.id, {"amount": 6000}, self.key("capture-1003"))

        expect_error(
            lambda: self.charge("order-1004", failing, 990, description="Order 1004"),
            stripe.CardError,
        )

        # Support looks a payment up, refunds part of it, and looks again.
        self.stripe.charges.retrieve(order.id)
        self.stripe.refunds.create(
            {"charge": order.id, "amount": 500, "metadata": {"reason": "late delivery"}},
            self.key("refund-1001"),
        )
        self.stripe.charges.retrieve(order.id)
        self.stripe.refunds.create({"charge": other.id}, self.key("refund-1002"))
        self.stripe.charges.update(order.id, {"metadata": {"shipped": "true"}})
        self.stripe.charges.list({"customer": buyer[0], "limit": 3})


def run(api_base: str, api_key: str, http_client: CountingHTTPClient | None = None) -> int:
    """Drive the integration against `api_base`; returns the HTTP requests made."""
    http_client = http_client or CountingHTTPClient(timeout=30)
    ChargesBackend(sdk_client(api_base, api_key, http_client)).shop()
    return http_client.requests_sent
