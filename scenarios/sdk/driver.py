"""A third party's integration, written against the stripe SDK as such code is written:
what a marketplace backend asks of Stripe, from several worker threads at once.

A catalogue (products, plans, coupons, tax rates) is set up first; then worker threads,
each with customers of its own, sign customers up with tokens, sources and payment
methods, take payments through payment intents (confirmed at once, confirmed later,
captured in part, cancelled) and charges, refund them, set up cards, subscribe with
a tax rate, add and remove items, prorate and preview changes, invoice extras, update
metadata, and meet the errors integrations meet: declined cards, bad parameters,
unknown ids, and a request retried with the same Idempotency-Key. At the end a back
office walks customers, charges and events page by page (`starting_after`), reads with
`expand[]`, and deletes what is no longer needed.

Which requests are sent depends on nothing but the answers' ids; only their interleaving
between workers changes from one run to the next. Every other worker pins an older API
version, as code written years apart does. The SDK runs with its defaults: its own
retries, an Idempotency-Key on every POST, telemetry.

    from scenarios.sdk.driver import run
    run("http://127.0.0.1:8420", "sk_test_…", workers=4)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import stripe

from scenarios.demo.driver import CountingHTTPClient, expect_error

CARD_OK = "4242424242424242"
CARD_MASTERCARD = "5555555555554444"
CARD_DECLINED = "4000000000000002"  # declined when saved, as a source or a payment method
CARD_FAILS_ON_CHARGE = "4000000000000341"  # attaches, then every charge is declined
IBAN_OK = "DE89370400440532013000"

# Customers each worker signs up; workers at once.
CUSTOMERS_PER_WORKER = 2
WORKERS = 4
# Every page walk is bounded.
MAX_PAGES = 20
# A second between two invoice items, as a person adds them (a replay does not keep it).
PAUSE = 1.05
# The API version older workers pin.
PINNED_VERSION = "2024-06-20"


class Integration:
    """One worker's view of the integration: a Stripe client of its own, counted, with the
    SDK's defaults (it retries on its own, sends an Idempotency-Key with every POST and
    the previous request's id as telemetry), pinned to `version` if given."""

    def __init__(self, api_base: str, api_key: str, version: str | None = None) -> None:
        self.http = CountingHTTPClient(timeout=30)
        self.stripe = stripe.StripeClient(
            api_key, base_addresses={"api": api_base}, http_client=self.http, stripe_version=version
        ).v1

    @staticmethod
    def key(name: str) -> stripe.RequestOptions:
        """The integration's own idempotency key, derived from its own records."""
        return {"idempotency_key": f"mkt-{name}"}

    # -- the catalogue -------------------------------------------------------

    def catalogue(self) -> dict[str, str]:
        s = self.stripe
        seats = s.products.create(
            {"name": "Seats", "description": "Per seat", "metadata": {"sku": "seat"}},
            self.key("product-seats"),
        )
        storage = s.products.create({"name": "Storage", "type": "service"})
        s.products.update(seats.id, {"metadata": {"sku": "seat-v2", "owner": "billing"}})
        s.plans.create(
            {
                "id": "seats-monthly",
                "product": seats.id,
                "amount": 1500,
                "currency": "usd",
                "interval": "month",
                "nickname": "Seats",
            },
            self.key("plan-seats"),
        )
        s.plans.create(
            {
                "id": "seats-yearly",
                "product": seats.id,
                "amount": 15000,
                "currency": "usd",
                "interval": "year",
            }
        )
        s.plans.create(
            {
                "id": "storage-monthly",
                "product": storage.id,
                "amount": 300,
                "currency": "usd",
                "interval": "month",
                "metadata": {"unit": "10GB"},
            }
        )
        s.plans.update("storage-monthly", {"nickname": "Storage"})
        s.plans.retrieve("seats-monthly", {"expand": ["product"]})
        vat = s.tax_rates.create(
            {"display_name": "VAT", "percentage": 20.0, "inclusive": False, "jurisdiction": "FR"}
        )
        s.tax_rates.create({"display_name": "GST", "percentage": 5.0, "inclusive": True})
        s.tax_rates.update(vat.id, {"metadata": {"region": "eu"}})
        s.coupons.create({"id": "WELCOME10", "percent_off": 10, "duration": "once"})
        s.coupons.create(
            {
                "id": "FIVEOFF3M",
                "amount_off": 500,
                "currency": "usd",
                "duration": "repeating",
                "duration_in_months": 3,
            }
        )
        s.coupons.update("WELCOME10", {"metadata": {"campaign": "spring"}})
        s.coupons.retrieve("WELCOME10")
        s.coupons.list({"limit": 10})
        s.tax_rates.list({"limit": 10})
        s.products.list({"limit": 10})
        return {
            "seats": "seats-monthly",
            "yearly": "seats-yearly",
            "storage": "storage-monthly",
            "vat": vat.id,
        }

    # -- one customer's life -------------------------------------------------

    def card_method(self, number: str, name: str) -> stripe.PaymentMethod:
        return self.stripe.payment_methods.create(
            {
                "type": "card",
                "card": {"number": number, "exp_month": 11, "exp_year": 2035, "cvc": "314"},
                "billing_details": {"name": name, "email": f"{name.lower()}@example.net"},
            }
        )

    def customer(self, worker: int, index: int, catalogue: dict[str, str]) -> None:
        s = self.stripe
        ref = f"w{worker}-c{index}"
        name = f"Seller{worker}x{index}"
        token = s.tokens.create(
            {"card": {"number": CARD_OK, "exp_month": 4, "exp_year": 2036, "cvc": "271"}}
        )
        customer = s.customers.create(
            {
                "email": f"{name.lower()}@example.net",
                "name": name,
                "description": f"seller {ref}",
                "source": token.id,
                "metadata": {"seller_ref": ref, "tier": "new"},
            },
            self.key(f"customer-{ref}"),
        )
        cid = customer.id
        s.customers.retrieve(cid, {"expand": ["default_source"]})
        s.customers.update(cid, {"metadata": {"tier": "verified", "kyc": "done"}})

        # A second card as a source, from a token, and a SEPA source that is kept on file.
        second = s.tokens.create(
            {"card": {"number": CARD_MASTERCARD, "exp_month": 8, "exp_year": 2034, "cvc": "828"}}
        )
        s.customers.payment_sources.create(cid, {"source": second.id})
        sepa = s.sources.create(
            {
                "type": "sepa_debit",
                "currency": "eur",
                "owner": {"name": name},
                "sepa_debit": {"iban": IBAN_OK},
            }
        )
        s.sources.retrieve(sepa.id)
        s.customers.payment_sources.list(cid, {"object": "card"})

        # A legacy charge against the default source, refunded in part.
        charge = s.charges.create(
            {
                "amount": 4200,
                "currency": "usd",
                "customer": cid,
                "description": f"listing fee {ref}",
                "metadata": {"order": f"lf-{ref}"},
            },
            self.key(f"charge-{ref}"),
        )
        s.refunds.create({"charge": charge.id, "amount": 1200}, self.key(f"refund-lf-{ref}"))
        s.charges.update(charge.id, {"metadata": {"refunded_in_part": "yes"}})
        s.charges.retrieve(charge.id, {"expand": ["customer"]})

        # A token from a card that is declined.
        expect_error(
            lambda: s.customers.payment_sources.create(
                cid,
                {
                    "source": s.tokens.create(
                        {
                            "card": {
                                "number": CARD_DECLINED,
                                "exp_month": 2,
                                "exp_year": 2033,
                                "cvc": "202",
                            }
                        }
                    ).id
                },
            ),
            stripe.CardError,
        )

        # Payment methods: the default one, a declined one at attach time.
        method = self.card_method(CARD_OK if index % 2 == 0 else CARD_MASTERCARD, name)
        s.payment_methods.attach(method.id, {"customer": cid})
        s.customers.update(cid, {"invoice_settings": {"default_payment_method": method.id}})
        declined = self.card_method(CARD_DECLINED, name)
        expect_error(
            lambda: s.payment_methods.attach(declined.id, {"customer": cid}), stripe.CardError
        )
        s.payment_methods.list({"customer": cid, "type": "card"})

        # Payment intents: at once; created then confirmed; held then captured in part;
        # cancelled; declined at confirmation.
        paid = s.payment_intents.create(
            {
                "amount": 2500,
                "currency": "usd",
                "customer": cid,
                "payment_method": method.id,
                "confirm": True,
                "metadata": {"order": f"o1-{ref}"},
            },
            self.key(f"pi-now-{ref}"),
        )
        later = s.payment_intents.create(
            {"amount": 1800, "currency": "usd", "customer": cid, "payment_method": method.id}
        )
        s.payment_intents.update(later.id, {"metadata": {"order": f"o2-{ref}"}})
        s.payment_intents.confirm(later.id)
        held = s.payment_intents.create(
            {
                "amount": 9900,
                "currency": "usd",
                "customer": cid,
                "payment_method": method.id,
                "capture_method": "manual",
                "confirm": True,
            },
            self.key(f"pi-hold-{ref}"),
        )
        s.payment_intents.capture(held.id, {"amount_to_capture": 7000})
        dropped = s.payment_intents.create(
            {"amount": 600, "currency": "eur", "customer": cid}, self.key(f"pi-drop-{ref}")
        )
        s.payment_intents.cancel(dropped.id)
        failing = self.card_method(CARD_FAILS_ON_CHARGE, name)
        s.payment_methods.attach(failing.id, {"customer": cid})
        expect_error(
            lambda: s.payment_intents.create(
                {
                    "amount": 3100,
                    "currency": "usd",
                    "customer": cid,
                    "payment_method": failing.id,
                    "confirm": True,
                }
            ),
            stripe.CardError,
        )
        s.payment_methods.detach(failing.id)

        # Refunds: whole, then part of another; read back with the intent expanded.
        s.refunds.create({"payment_intent": paid.id}, self.key(f"refund-{ref}"))
        partial = s.refunds.create(
            {"payment_intent": held.id, "amount": 2000, "metadata": {"reason": "damaged"}}
        )
        s.refunds.update(partial.id, {"metadata": {"ticket": f"t-{ref}"}})
        s.refunds.list({"payment_intent": held.id})
        s.payment_intents.retrieve(later.id, {"expand": ["latest_charge", "customer"]})
        s.charges.list({"customer": cid, "limit": 3})
        s.charges.list({"customer": cid, "created": {"gt": charge.created - 60}})
        # Search is not on every Stripe the integration meets: it falls back to a list.
        expect_error(
            lambda: s.customers.search({"query": f"metadata['seller_ref']:'{ref}'"}),
            stripe.StripeError,
        )
        s.customers.list({"email": f"{name.lower()}@example.net"})
        s.payment_methods.retrieve(method.id)

        # Setup intent for a later payment.
        spare = self.card_method(CARD_MASTERCARD, name)
        setup = s.setup_intents.create({"customer": cid, "usage": "off_session"})
        s.setup_intents.confirm(setup.id, {"payment_method": spare.id})
        s.setup_intents.retrieve(setup.id)
        unused = s.setup_intents.create({"customer": cid})
        s.setup_intents.cancel(unused.id)

        # A subscription with two items and a tax rate; a seat more, prorated; a new item;
        # one removed; the plan's interval changed (localstripe invoices at once).
        subscription = s.subscriptions.create(
            {
                "customer": cid,
                "items": [{"plan": catalogue["seats"], "quantity": 2}],
                "default_tax_rates": [catalogue["vat"]],
                "metadata": {"seller_ref": ref},
            },
            self.key(f"subscribe-{ref}"),
        )
        seat_item = subscription["items"].data[0].id
        s.subscriptions.update(
            subscription.id,
            {
                "items": [{"id": seat_item, "quantity": 3}],
                # localstripe knows the older names of proration_behavior.
                "prorate": True,
                "proration_date": int(time.time()),
            },
        )
        extra = s.subscription_items.create(
            {"subscription": subscription.id, "plan": catalogue["storage"], "quantity": 1}
        )
        s.subscription_items.update(extra.id, {"quantity": 2, "metadata": {"gb": "20"}})
        s.subscription_items.retrieve(extra.id)
        s.subscription_items.delete(extra.id)
        s.subscriptions.retrieve(
            subscription.id, {"expand": ["latest_invoice", "latest_invoice.payment_intent"]}
        )
        # What a fifth seat would cost from now on, before asking the customer.
        s.invoices.create_preview(
            {
                "customer": cid,
                "subscription": subscription.id,
                "subscription_details": {
                    "items": [{"id": seat_item, "plan": catalogue["seats"], "quantity": 5}],
                    "proration_date": int(time.time()),
                },
            }
        )
        if index == 0:
            s.subscriptions.update(
                subscription.id,
                {"items": [{"id": seat_item, "plan": catalogue["yearly"]}]},
            )
        else:
            s.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
        s.subscriptions.list({"customer": cid})

        # Extras invoiced by hand: two pending items a second apart, one invoice.
        s.invoice_items.create(
            {"customer": cid, "amount": 700, "currency": "usd", "description": "Setup fee"}
        )
        time.sleep(PAUSE)
        pending = s.invoice_items.create(
            {
                "customer": cid,
                "amount": 300,
                "currency": "usd",
                "description": "Support hour",
                "tax_rates": [catalogue["vat"]],
            }
        )
        s.invoice_items.update(pending.id, {"description": "Support hour (priority)"})
        invoice = s.invoices.create({"customer": cid}, self.key(f"invoice-{ref}"))
        s.invoices.retrieve(invoice.id, {"expand": ["customer"]})
        s.invoices.line_items.list(invoice.id, {"limit": 10})
        if index == 0:
            s.invoices.pay(invoice.id)
        else:
            # A draft cannot be voided; it is deleted instead.
            expect_error(lambda: s.invoices.void_invoice(invoice.id), stripe.InvalidRequestError)
            s.invoices.delete(invoice.id)
        s.invoices.list({"customer": cid, "limit": 10})

        # The same request sent twice with the same key: a retry after a lost answer.
        retry: stripe.RequestOptions = self.key(f"retry-{ref}")
        s.payment_intents.create({"amount": 1100, "currency": "usd", "customer": cid}, retry)
        s.payment_intents.create({"amount": 1100, "currency": "usd", "customer": cid}, retry)

        # Mistakes: bad parameters, an id of another object, an id that does not exist.
        expect_error(
            lambda: s.payment_intents.create({"amount": -5, "currency": "usd"}),
            stripe.InvalidRequestError,
        )
        expect_error(
            lambda: s.payment_intents.create(
                {"amount": 100, "currency": "usd", "customer": cid, "capture_method": "later"}  # type: ignore[typeddict-item]
            ),
            stripe.InvalidRequestError,
        )
        expect_error(
            lambda: s.charges.retrieve(f"ch_missing{worker}{index}abcdef"),
            stripe.InvalidRequestError,
        )
        expect_error(
            lambda: s.subscriptions.retrieve(f"sub_missing{worker}{index}abcdef"),
            stripe.InvalidRequestError,
        )

        s.customers.update(cid, {"metadata": {"tier": "active", "kyc": ""}})

    def worker(self, worker: int, customers: int, catalogue: dict[str, str]) -> int:
        """One worker's customers, one after the other; returns the requests it made."""
        for index in range(customers):
            self.customer(worker, index, catalogue)
        return self.http.requests_sent

    # -- the back office -----------------------------------------------------

    def walk(self, lister: Callable[..., Any], params: dict[str, Any]) -> int:
        """Every page of a list, `starting_after` the last item of the page before."""
        pages = 0
        page_params = dict(params)
        while pages < MAX_PAGES:
            page = lister(page_params)
            pages += 1
            if not page.has_more or not page.data:
                break
            page_params = {**params, "starting_after": page.data[-1].id}
        return pages

    def back_office(self) -> None:
        s = self.stripe
        self.walk(s.customers.list, {"limit": 3})
        self.walk(s.charges.list, {"limit": 4, "expand": ["data.customer"]})
        self.walk(s.payment_intents.list, {"limit": 5})
        self.walk(s.subscriptions.list, {"limit": 3, "status": "all"})
        self.walk(s.plans.list, {"limit": 2})
        s.events.list({"limit": 10})
        s.balance.retrieve()

    def offboard(self, catalogue: dict[str, str]) -> None:
        """A seller leaves; a promotion ends; a plan is retired."""
        s = self.stripe
        leaving = s.customers.list({"limit": 1}).data[0]
        s.customers.delete(leaving.id)
        expect_error(lambda: s.customers.retrieve(leaving.id), stripe.InvalidRequestError)
        s.coupons.delete("WELCOME10")
        s.plans.delete(catalogue["yearly"])
        expect_error(lambda: s.plans.retrieve(catalogue["yearly"]), stripe.InvalidRequestError)


def run(
    api_base: str, api_key: str, workers: int = WORKERS, customers: int = CUSTOMERS_PER_WORKER
) -> int:
    """Drive the integration against `api_base` with `workers` threads of `customers`
    customers each; returns the HTTP requests made."""
    front = Integration(api_base, api_key)
    catalogue = front.catalogue()
    # Every other worker is older code, pinned to the API version it was written for.
    integrations = [
        Integration(api_base, api_key, PINNED_VERSION if number % 2 else None)
        for number in range(workers)
    ]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # A worker's failure is raised here, once the others have finished.
        sent = sum(
            pool.map(
                lambda number: integrations[number].worker(number, customers, catalogue),
                range(workers),
            )
        )
    front.back_office()
    front.offboard(catalogue)
    return sent + front.http.requests_sent
