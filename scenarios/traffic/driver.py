"""Stateful Stripe traffic, random and deterministic for a seed, sent through the stripe SDK.

Many customers are in flight at once and take turns at random, one request a turn, so
their requests interleave as a busy backend's do: sign-ups with a card or a SEPA debit
account, payments (some declined, some needing 3-D Secure), refunds, subscriptions that
are changed and cancelled, invoices, setup intents, reads of their own objects. Between
turns come the reads a back office makes of everything: events (paged with
`starting_after`, and single events retrieved), the balance and its transactions,
charges, payment intents, invoices, refunds and customers, each page now and then
followed by the next one. What is sent depends only on the seed and on the answers'
ids, so the same seed gives the same traffic against any fresh localstripe.

Two things localstripe answers by its own clock are left out, so that two replays of a
recording can agree (docs/replay.md, "localstripe as a target"): SEPA debit customers
never pay (localstripe settles a debit half a second after the request, whenever that
falls), and refunds, invoices and balance transactions, which it sorts by their creation
second, are only read whole (a page would cut through a second in any order).

    from scenarios.traffic.driver import run
    run("http://127.0.0.1:8420", "sk_test_…", seed=7, requests=300)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stripe

from scenarios.demo.driver import CountingHTTPClient, sdk_client

T = TypeVar("T")

# Stripe's public test cards and test IBANs, by what they do on localstripe.
CARDS = {
    "ok": "4242424242424242",
    "mastercard": "5555555555554444",
    "fails_on_charge": "4000000000000341",  # attaches, then every charge is declined
    "needs_3ds": "4000002760003184",
}
IBANS = {
    "ok": "DE89370400440532013000",
    "fails_on_charge": "DE62370400440532013001",
}
# How a new customer pays, with weights: mostly cards that work.
FUNDING = (
    ("ok", 5),
    ("mastercard", 2),
    ("fails_on_charge", 1),
    ("needs_3ds", 1),
    ("sepa_ok", 2),
    ("sepa_fails_on_charge", 1),
)
# Customers in flight at once.
IN_FLIGHT = 6
# The share of turns that go to a read of everything rather than to a customer.
BACK_OFFICE_SHARE = 0.18
# Lists read whole hold at most this many items (Stripe's largest page).
WHOLE = 100
# Bumped whenever the traffic of a seed changes, so kept recordings are made again.
GENERATOR_VERSION = 1


Step = Iterator[None]
"""A customer's requests: each `next()` sends exactly one (or none, when it ends)."""


@dataclass(slots=True)
class Cursors:
    """What the back office has learnt from earlier pages: the last id of each list's
    page (the next page starts after it), and ids it may retrieve."""

    after: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    charges: list[str] = field(default_factory=list)


class Traffic:
    """The requests of one seed, sent through `client` (see the module docstring)."""

    def __init__(self, client: stripe.StripeClient, seed: int) -> None:
        self.stripe = client.v1
        self.rng = random.Random(seed)
        self.seed = seed
        self.plans: list[str] = []
        self.cursors = Cursors()
        self.sizes: dict[str, int] = {}  # how long lists read whole were, last time
        self.made = 0  # customers started

    @staticmethod
    def attempt(call: Callable[[], T]) -> T | None:
        """A call whose refusal (a decline, a 3DS card, a state error) is part of the
        traffic: Stripe's error is the answer recorded, and the customer moves on."""
        try:
            return call()
        except stripe.StripeError:
            return None

    # --- the catalogue -------------------------------------------------------------------

    def catalogue(self) -> None:
        for name, amount in (("Basic", 900), ("Pro", 2900)):
            product = self.stripe.products.create({"name": f"{name} {self.seed}"})
            plan = self.stripe.plans.create(
                {
                    "id": f"{name.lower()}-s{self.seed}",
                    "product": product.id,
                    "amount": amount,
                    "currency": "usd",
                    "interval": "month",
                }
            )
            self.plans.append(plan.id)

    # --- one customer's life ---------------------------------------------------------------

    def customer(self) -> Step:
        rng = self.rng
        self.made += 1
        number = self.made
        customer = self.stripe.customers.create(
            {
                "email": f"buyer{number}@example.org",
                "name": f"Buyer {number}",
                "metadata": {"buyer": str(number)},
            }
        )
        yield
        funding = rng.choices([f for f, _ in FUNDING], [w for _, w in FUNDING])[0]
        if funding.startswith("sepa_"):
            details: dict[str, Any] = {
                "type": "sepa_debit",
                "sepa_debit": {"iban": IBANS[funding.removeprefix("sepa_")]},
            }
        else:
            card = {"number": CARDS[funding], "exp_month": 12, "exp_year": 2034, "cvc": "123"}
            details = {"type": "card", "card": card}
        method = self.stripe.payment_methods.create(details)  # type: ignore[arg-type]
        yield
        self.stripe.payment_methods.attach(method.id, {"customer": customer.id})
        yield
        self.stripe.customers.update(
            customer.id, {"invoice_settings": {"default_payment_method": method.id}}
        )
        yield
        subscribed = False
        pays = not funding.startswith("sepa_")
        for _ in range(rng.randint(1, 5)):
            roll = rng.random()
            if roll < 0.35 and pays:
                yield from self.pay(customer.id, method.id)
            elif roll < 0.5 and pays:
                subscribed = (yield from self.subscribe(customer.id)) or subscribed
            elif roll < 0.6 and subscribed:
                # localstripe invoices a customer only through a subscription.
                yield from self.invoice(customer.id)
            elif roll < 0.68:
                yield from self.set_up(customer.id)
            elif roll < 0.88:
                yield from self.look_up(customer.id)
            else:
                segment = rng.choice(["smb", "mid", "enterprise"])
                self.stripe.customers.update(customer.id, {"metadata": {"segment": segment}})
                yield
        if rng.random() < 0.1:
            self.stripe.customers.delete(customer.id)
            yield

    def pay(self, customer: str, method: str) -> Step:
        rng = self.rng
        amount = rng.randrange(5, 300) * 100
        params: dict[str, Any] = {
            "amount": amount,
            "currency": "eur" if rng.random() < 0.3 else "usd",
            "customer": customer,
            "payment_method": method,
            "confirm": True,
            "metadata": {"order": f"{self.seed}-{rng.getrandbits(24):06x}"},
        }
        manual = rng.random() < 0.15
        if manual:
            params["capture_method"] = "manual"
        intent = self.attempt(lambda: self.stripe.payment_intents.create(params))  # type: ignore[arg-type]
        yield
        if intent is None:
            return  # declined
        if intent.status == "requires_action":
            self.stripe.payment_intents.cancel(intent.id)
            yield
            return
        if manual:
            captured = {"amount_to_capture": amount // 2}
            self.attempt(lambda: self.stripe.payment_intents.capture(intent.id, captured))  # type: ignore[arg-type]
            yield
        if rng.random() < 0.4:
            self.stripe.payment_intents.retrieve(intent.id)
            yield
        if rng.random() < 0.3:
            refund: dict[str, Any] = {"payment_intent": intent.id}
            if rng.random() < 0.5:
                refund["amount"] = 100
            self.attempt(lambda: self.stripe.refunds.create(refund))  # type: ignore[arg-type]
            yield

    def subscribe(self, customer: str) -> Generator[None, None, bool]:
        """Subscribe to a plan, then perhaps read, change or cancel; returns whether the
        customer has a subscription."""
        rng = self.rng
        plan = rng.choice(self.plans)
        subscription = self.attempt(
            lambda: self.stripe.subscriptions.create(
                {"customer": customer, "items": [{"plan": plan}], "metadata": {"via": "web"}}
            )
        )
        yield
        if subscription is None:
            return False
        roll = rng.random()
        if roll < 0.3:
            self.stripe.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]})
            yield
        elif roll < 0.5:
            self.stripe.subscriptions.update(subscription.id, {"metadata": {"seats": "3"}})
            yield
        if rng.random() < 0.25:
            self.attempt(lambda: self.stripe.subscriptions.cancel(subscription.id))
            yield
            return False
        return True

    def invoice(self, customer: str) -> Step:
        rng = self.rng
        item = {
            "customer": customer,
            "amount": rng.randrange(1, 50) * 100,
            "currency": "usd",
            "description": rng.choice(["Extra seats", "Setup", "Support hours"]),
        }
        self.stripe.invoice_items.create(item)  # type: ignore[arg-type]
        yield
        invoice = self.attempt(lambda: self.stripe.invoices.create({"customer": customer}))
        yield
        if invoice is not None and invoice.id is not None and rng.random() < 0.7:
            invoice_id = invoice.id
            self.attempt(lambda: self.stripe.invoices.pay(invoice_id))
            yield

    def set_up(self, customer: str) -> Step:
        method = self.stripe.payment_methods.create(
            {
                "type": "card",
                "card": {"number": CARDS["ok"], "exp_month": 6, "exp_year": 2033, "cvc": "321"},
            }
        )
        yield
        intent = self.stripe.setup_intents.create({"customer": customer, "usage": "off_session"})
        yield
        self.attempt(
            lambda: self.stripe.setup_intents.confirm(intent.id, {"payment_method": method.id})
        )
        yield

    def look_up(self, customer: str) -> Step:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            self.stripe.customers.retrieve(customer)
        elif roll < 0.55:
            self.stripe.charges.list({"customer": customer, "limit": 3})
        elif roll < 0.8:
            self.stripe.invoices.list({"customer": customer, "limit": 3})
        else:
            self.stripe.payment_methods.list({"customer": customer, "type": "card"})
        yield

    # --- the back office's reads of everything ------------------------------------------

    def back_office(self) -> None:
        """One read of a whole collection (or of one object a list named)."""
        rng = self.rng
        cursors = self.cursors
        roll = rng.random()
        if roll < 0.25:
            self._page("events", self.stripe.events.list, cursors.events)
        elif roll < 0.33 and cursors.events:
            self.stripe.events.retrieve(rng.choice(cursors.events))
        elif roll < 0.43:
            self.stripe.balance.retrieve()
        elif roll < 0.53:
            self._whole("balance_transactions", self.stripe.balance_transactions.list)
        elif roll < 0.65:
            self._page("charges", self.stripe.charges.list, cursors.charges)
        elif roll < 0.7 and cursors.charges:
            self.stripe.charges.retrieve(rng.choice(cursors.charges))
        elif roll < 0.78:
            self._page("payment_intents", self.stripe.payment_intents.list)
        elif roll < 0.86:
            self._whole("invoices", self.stripe.invoices.list)
        elif roll < 0.93:
            self._whole("refunds", self.stripe.refunds.list)
        else:
            self._page("customers", self.stripe.customers.list)

    def _whole(self, name: str, lister: Callable[[Any], Any]) -> None:
        """A list localstripe sorts by creation second, read whole while it surely fits
        on one page: not any more once it was more than half a page long."""
        if self.sizes.get(name, 0) <= WHOLE // 2:
            self.sizes[name] = lister({"limit": WHOLE}).total_count  # a localstripe field

    def _page(
        self, name: str, lister: Callable[[Any], Any], listed: list[str] | None = None
    ) -> None:
        """A first page, or (half the time, when there is one) the page after the last
        one read; its last id is where the next page starts."""
        params: dict[str, Any] = {"limit": self.rng.choice([3, 5, 10])}
        after = self.cursors.after.get(name)
        if after is not None and self.rng.random() < 0.5:
            params["starting_after"] = after
        page = lister(params)
        if page.data:
            self.cursors.after[name] = page.data[-1].id
            if listed is not None:
                listed.extend(item.id for item in page.data if item.id not in listed)
        else:
            self.cursors.after.pop(name, None)

    # --- the whole day -------------------------------------------------------------------

    def run(self, requests: int, sent: Callable[[], int]) -> None:
        """Send about `requests` requests (the last customer turn may add a few)."""
        self.catalogue()
        flight: list[Step] = []
        while sent() < requests:
            if self.rng.random() < BACK_OFFICE_SHARE:
                self.back_office()
                continue
            while len(flight) < IN_FLIGHT:
                flight.append(self.customer())
            step = flight.pop(self.rng.randrange(len(flight)))
            try:
                next(step)
            except StopIteration:
                continue
            flight.append(step)


def run(
    api_base: str,
    api_key: str,
    *,
    seed: int,
    requests: int,
    http_client: CountingHTTPClient | None = None,
) -> int:
    """Drive `requests` requests of seed `seed` against `api_base`; returns the HTTP
    requests made."""
    counter = http_client or CountingHTTPClient(timeout=30)
    traffic = Traffic(sdk_client(api_base, api_key, counter), seed)
    traffic.run(requests, lambda: counter.requests_sent)
    return counter.requests_sent
