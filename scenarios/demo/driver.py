"""A demo integration: what a SaaS backend asks of Stripe, through the real stripe SDK.

Customers with metadata and cards, a catalogue of products and plans, subscriptions that
are created, changed and cancelled, payments that succeed, are declined or need 3-D
Secure, a manual capture, refunds, setup intents, invoices, paginated lists, expand[],
explicit idempotency keys and errors the backend handles. The shape of the traffic is
the same on every run; only the ids Stripe hands out change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import stripe

T = TypeVar("T")

# Stripe's public test cards.
CARD_OK = "4242424242424242"
CARD_MASTERCARD = "5555555555554444"
CARD_DECLINED = "4000000000000002"
CARD_ATTACHES_THEN_FAILS = "4000000000000341"
CARD_3DS = "4000002760003184"

# Requests are bounded: list pages are walked at most this many times.
MAX_PAGES = 10


class CountingHTTPClient(stripe.RequestsClient):
    """The SDK's own requests-based client, counting every HTTP request it sends."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests_sent = 0

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        self.requests_sent += 1
        return super().request(method, url, headers, post_data)


def expect_error(call: Callable[[], object], kind: type[stripe.StripeError]) -> stripe.StripeError:
    """Run a call the backend expects Stripe to refuse, and return Stripe's error."""
    try:
        call()
    except kind as error:
        return error
    raise AssertionError(f"expected Stripe to answer with {kind.__name__}")


class DemoBackend:
    """The calls a small subscription business makes, grouped by what it is doing."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.stripe = client.v1
        self.customers: list[stripe.Customer] = []
        self.cards: dict[str, str] = {}  # customer id → payment method id

    @staticmethod
    def key(name: str) -> stripe.RequestOptions:
        """An explicit, deterministic idempotency key, as a backend derives from its own ids."""
        return {"idempotency_key": f"shadow-demo-{name}"}

    def catalogue(self) -> tuple[str, str]:
        basic = self.stripe.products.create(
            {"name": "Basic", "metadata": {"tier": "1"}}, self.key("product-basic")
        )
        pro = self.stripe.products.create(
            {"name": "Pro", "metadata": {"tier": "2"}}, self.key("product-pro")
        )
        basic_plan = self.stripe.plans.create(
            {
                "id": "basic-monthly",
                "product": basic.id,
                "amount": 900,
                "currency": "usd",
                "interval": "month",
                "nickname": "Basic monthly",
            },
            self.key("plan-basic"),
        )
        pro_plan = self.stripe.plans.create(
            {
                "id": "pro-monthly",
                "product": pro.id,
                "amount": 2900,
                "currency": "usd",
                "interval": "month",
                "nickname": "Pro monthly",
            },
            self.key("plan-pro"),
        )
        self.stripe.products.retrieve(basic.id)
        self.stripe.plans.list({"limit": 10})
        return basic_plan.id, pro_plan.id

    def sign_up(self, index: int, card: str) -> stripe.Customer:
        """A new account: customer, card saved as a payment method, made the default."""
        customer = self.stripe.customers.create(
            {
                "email": f"owner{index}@example{index}.org",
                "name": f"Owner Number{index}",
                "phone": f"+3361234567{index}",
                "address": {"line1": f"{index} rue de la Paix", "city": "Paris", "country": "FR"},
                "description": f"workspace {index}",
                "metadata": {"workspace_id": f"ws_{index:04d}", "plan": "trial"},
            },
            self.key(f"customer-{index}"),
        )
        method = self.stripe.payment_methods.create(
            {
                "type": "card",
                "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
                "billing_details": {"name": f"Owner Number{index}"},
            }
        )
        self.stripe.payment_methods.attach(method.id, {"customer": customer.id})
        self.stripe.customers.update(
            customer.id, {"invoice_settings": {"default_payment_method": method.id}}
        )
        self.customers.append(customer)
        self.cards[customer.id] = method.id
        return customer

    def payments(self) -> None:
        ok, second, declined, secure = (
            self.customers[0],
            self.customers[1],
            self.customers[2],
            self.customers[3],
        )

        # One-off payments that succeed, each with the backend's own idempotency key.
        paid = []
        for number, (customer, amount) in enumerate(((ok, 2000), (second, 3500), (ok, 1250))):
            intent = self.stripe.payment_intents.create(
                {
                    "amount": amount,
                    "currency": "usd",
                    "customer": customer.id,
                    "payment_method": self.cards[customer.id],
                    "confirm": True,
                    "metadata": {"order_id": f"order-{number}"},
                },
                self.key(f"order-{number}"),
            )
            paid.append(intent)

        # A declined card, given at checkout: Stripe answers 402 card_declined when it
        # is saved for the customer.
        card = self.stripe.payment_methods.create(
            {
                "type": "card",
                "card": {
                    "number": CARD_DECLINED,
                    "exp_month": 3,
                    "exp_year": 2031,
                    "cvc": "555",
                },
            }
        )
        expect_error(
            lambda: self.stripe.payment_methods.attach(card.id, {"customer": declined.id}),
            stripe.CardError,
        )
        # A saved card that attached fine but is declined when a payment is confirmed.
        expect_error(
            lambda: self.stripe.payment_intents.create(
                {
                    "amount": 990,
                    "currency": "usd",
                    "customer": declined.id,
                    "payment_method": self.cards[declined.id],
                    "confirm": True,
                },
                self.key("order-saved-declined"),
            ),
            stripe.CardError,
        )

        # A card that needs 3-D Secure: the intent waits for the customer.
        needs_action = self.stripe.payment_intents.create(
            {
                "amount": 5000,
                "currency": "eur",
                "customer": secure.id,
                "payment_method": self.cards[secure.id],
                "confirm": True,
            },
            self.key("order-3ds"),
        )
        self.stripe.payment_intents.retrieve(needs_action.id)
        self.stripe.payment_intents.cancel(needs_action.id)

        # Authorise now, capture part of it later.
        held = self.stripe.payment_intents.create(
            {
                "amount": 8000,
                "currency": "usd",
                "customer": second.id,
                "payment_method": self.cards[second.id],
                "capture_method": "manual",
                "confirm": True,
            },
            self.key("order-hold"),
        )
        self.stripe.payment_intents.capture(held.id, {"amount_to_capture": 6000})

        # Create first, confirm in a second step.
        later = self.stripe.payment_intents.create(
            {
                "amount": 1500,
                "currency": "usd",
                "customer": ok.id,
                "payment_method": self.cards[ok.id],
            },
            self.key("order-later"),
        )
        self.stripe.payment_intents.confirm(later.id)

        # Refunds: a whole payment, then part of another.
        self.stripe.refunds.create({"payment_intent": paid[0].id}, self.key("refund-0"))
        partial = self.stripe.refunds.create(
            {"payment_intent": paid[1].id, "amount": 500, "metadata": {"reason": "goodwill"}},
            self.key("refund-1"),
        )
        self.stripe.refunds.retrieve(partial.id)
        self.stripe.refunds.list({"limit": 5})

        # What the support page shows: one payment with its charge and customer expanded.
        self.stripe.payment_intents.retrieve(paid[1].id, {"expand": ["latest_charge", "customer"]})
        self.stripe.charges.list({"customer": ok.id, "limit": 3})

    def setup_intents(self) -> None:
        customer = self.customers[4]
        method = self.stripe.payment_methods.create(
            {
                "type": "card",
                "card": {
                    "number": CARD_MASTERCARD,
                    "exp_month": 6,
                    "exp_year": 2033,
                    "cvc": "321",
                },
            }
        )
        intent = self.stripe.setup_intents.create(
            {"customer": customer.id, "usage": "off_session"}, self.key("setup-4")
        )
        self.stripe.setup_intents.confirm(intent.id, {"payment_method": method.id})
        self.stripe.setup_intents.retrieve(intent.id)

        secure = self.stripe.payment_methods.create(
            {
                "type": "card",
                "card": {"number": CARD_3DS, "exp_month": 1, "exp_year": 2032, "cvc": "999"},
            }
        )
        waiting = self.stripe.setup_intents.create({"customer": customer.id}, self.key("setup-3ds"))
        self.stripe.setup_intents.confirm(waiting.id, {"payment_method": secure.id})
        self.stripe.setup_intents.cancel(waiting.id)

    def subscriptions(self, basic: str, pro: str) -> None:
        subscribed = []
        for index in (0, 1, 4, 5):
            customer = self.customers[index]
            subscription = self.stripe.subscriptions.create(
                {
                    "customer": customer.id,
                    "items": [{"plan": basic}],
                    "metadata": {"workspace_id": f"ws_{index:04d}"},
                },
                self.key(f"subscribe-{index}"),
            )
            subscribed.append(subscription)
            self.stripe.customers.update(customer.id, {"metadata": {"plan": "basic"}})

        # An upgrade: the item moves to the pro plan.
        upgraded = subscribed[1]
        self.stripe.subscriptions.update(
            upgraded.id,
            {
                "items": [{"id": upgraded["items"].data[0].id, "plan": pro}],
                "metadata": {"upgraded": "true"},
            },
            self.key("upgrade-1"),
        )
        self.stripe.subscriptions.retrieve(upgraded.id, {"expand": ["latest_invoice"]})

        # A cancellation.
        self.stripe.subscriptions.cancel(subscribed[2].id)
        self.stripe.subscriptions.list({"customer": self.customers[0].id})

        # Subscribing with the card that is declined leaves the subscription incomplete.
        self.stripe.subscriptions.create(
            {"customer": self.customers[2].id, "items": [{"plan": basic}]},
            self.key("subscribe-declined"),
        )

    def invoices(self) -> None:
        customer = self.customers[1]
        self.stripe.invoice_items.create(
            {
                "customer": customer.id,
                "amount": 1200,
                "currency": "usd",
                "description": "Extra seats",
            },
            self.key("invoice-item-1"),
        )
        invoice = self.stripe.invoices.create({"customer": customer.id}, self.key("invoice-1"))
        self.stripe.invoices.retrieve(invoice.id)
        self.stripe.invoices.pay(invoice.id)
        for listed in self.stripe.invoices.list({"customer": customer.id, "limit": 3}).data[:2]:
            self.stripe.invoices.line_items.list(listed.id)
        self.stripe.invoices.list({"limit": 5})

    def paginate(self) -> int:
        """Walk every customer two at a time, as an export job would."""
        pages = 0
        params: dict[str, Any] = {"limit": 2}
        while pages < MAX_PAGES:
            page = self.stripe.customers.list(params)  # type: ignore[arg-type]
            pages += 1
            if not page.has_more or not page.data:
                break
            params = {"limit": 2, "starting_after": page.data[-1].id}
        return pages

    def mistakes(self) -> None:
        """Errors a backend meets and handles."""
        expect_error(
            lambda: self.stripe.customers.retrieve("cus_doesnotexist0"), stripe.InvalidRequestError
        )
        expect_error(
            lambda: self.stripe.payment_intents.create(
                {"amount": 100, "currency": "usd", "confirm": "maybe"}  # type: ignore[typeddict-item]
            ),
            stripe.InvalidRequestError,
        )

    def offboard(self) -> None:
        """A workspace leaves: its card is detached and the customer deleted."""
        leaving = self.customers[5]
        self.stripe.payment_methods.detach(self.cards[leaving.id])
        self.stripe.customers.delete(leaving.id)


def sdk_client(api_base: str, api_key: str, http_client: CountingHTTPClient) -> stripe.StripeClient:
    """The stripe SDK talking to `api_base` through `http_client`, with no retries of its
    own (a retry would be an exchange the integration did not make)."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=0,
        http_client=http_client,
    )


def run(api_base: str, api_key: str, http_client: CountingHTTPClient | None = None) -> int:
    """Drive the demo integration against `api_base`; returns the HTTP requests made."""
    http_client = http_client or CountingHTTPClient(timeout=30)
    backend = DemoBackend(sdk_client(api_base, api_key, http_client))
    basic, pro = backend.catalogue()
    for index, card in enumerate(
        (CARD_OK, CARD_MASTERCARD, CARD_ATTACHES_THEN_FAILS, CARD_3DS, CARD_OK, CARD_OK)
    ):
        backend.sign_up(index, card)
    backend.payments()
    backend.setup_intents()
    backend.subscriptions(basic, pro)
    backend.invoices()
    backend.paginate()
    backend.mistakes()
    backend.offboard()
    return http_client.requests_sent
