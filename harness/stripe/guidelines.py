"""What Stripe documents about using its API well, each fact with the page that says so:
rate limits, how deep `expand` goes, how far Search lags, which APIs are deprecated and
what replaces them, which errors a retry cannot fix, which resources announce their
changes as events. The integration map's findings (harness/map/findings.py) rest on these.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

# --- the pages -------------------------------------------------------------------------

DOCS = "https://docs.stripe.com"
IDEMPOTENCY_DOC = f"{DOCS}/api/idempotent_requests"
RETRY_DOC = f"{DOCS}/error-low-level"
VERSIONING_DOC = f"{DOCS}/api/versioning"
WEBHOOKS_DOC = f"{DOCS}/webhooks"
EXPAND_DOC = f"{DOCS}/api/expanding_objects"
SEARCH_DOC = f"{DOCS}/search#data-freshness"
RATE_LIMITS_DOC = f"{DOCS}/rate-limits"
KEYS_DOC = f"{DOCS}/keys-best-practices"
DYNAMIC_PAYMENT_METHODS_DOC = f"{DOCS}/payments/payment-methods/dynamic-payment-methods"

# --- limits ----------------------------------------------------------------------------

# Requests per second an account may send, by mode (test mode is a sandbox's limit).
RATE_LIMITS = {"live": 100, "test": 25}
# Search has a limit of its own, in both modes.
SEARCH_RATE_LIMIT = 20
# Updates of one PaymentIntent per hour.
PAYMENT_INTENT_UPDATES_PER_HOUR = 1000
# `expand[]=a.b.c.d` is the deepest Stripe accepts: a fifth level is refused with a 400.
EXPAND_MAX_DEPTH = 4
# Search is eventually consistent: a write shows in its results up to a minute later
# (longer during an outage).
SEARCH_LAG_SECONDS = 60.0


def rate_limit(mode: str) -> int:
    """Requests per second an account of `mode` may send (an unknown mode gets test mode's,
    the stricter)."""
    return RATE_LIMITS.get(mode, RATE_LIMITS["test"])


# --- retries ---------------------------------------------------------------------------

# 4xx answers that a retry of the same request can fix: a conflict on an idempotency key
# still in use, and a rate limit.
RETRYABLE_CLIENT_STATUSES = frozenset({409, 429})
# Declines that may pass when the same request is sent again later.
RETRYABLE_DECLINES = frozenset(
    {"processing_error", "try_again_later", "issuer_not_available", "reenter_transaction"}
)


def retry_cannot_succeed(status: int, code: str | None, should_retry: str | None) -> bool:
    """True when sending the same request again cannot change a 4xx answer.

    Stripe's `Stripe-Should-Retry` header, when the answer carries it, decides; otherwise
    a 4xx other than a conflict or a rate limit, or a decline other than a transient one,
    is an answer about the request itself, and the same request gets it again.
    """
    if not 400 <= status < 500:
        return False
    if should_retry is not None and should_retry.strip().lower() in ("true", "false"):
        return should_retry.strip().lower() == "false"
    if status in RETRYABLE_CLIENT_STATUSES:
        return False
    return code not in RETRYABLE_DECLINES


# --- events ----------------------------------------------------------------------------

# Resources whose every change Stripe announces as an event (`payment_intent.succeeded`,
# `invoice.paid`, `customer.subscription.updated`, ...): reading them again and again to
# see a change is what a webhook endpoint (or a read of /v1/events) replaces.
RESOURCES_WITH_EVENTS = frozenset(
    {
        "accounts",
        "charges",
        "checkout",
        "credit_notes",
        "customers",
        "disputes",
        "invoiceitems",
        "invoices",
        "payment_intents",
        "payment_methods",
        "payouts",
        "prices",
        "products",
        "refunds",
        "setup_intents",
        "subscription_schedules",
        "subscriptions",
        "transfers",
    }
)

# --- deprecations ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deprecation:
    """An API Stripe tells integrations to move off, where it is used, what replaces it."""

    name: str  # `Charges API`
    endpoints: tuple[str, ...]  # globs over endpoint templates
    replacement: str
    doc: str
    parameter: tuple[str, ...] = ()  # a parameter path, when the deprecation is one parameter

    def covers(self, endpoint: str) -> bool:
        return any(fnmatch.fnmatchcase(endpoint, pattern) for pattern in self.endpoints)


DEPRECATIONS = (
    Deprecation(
        "Charges API (creating charges directly)",
        ("POST /v1/charges", "POST /v1/charges/{charge}/capture"),
        "PaymentIntents, which handle authentication (3-D Secure) and every payment method",
        f"{DOCS}/payments/payment-intents/migration/charges",
    ),
    Deprecation(
        "Sources API",
        ("* /v1/sources*", "POST /v1/customers/{customer}/sources*"),
        "PaymentMethods (and SetupIntents to save them)",
        f"{DOCS}/payments/payment-methods/transitioning",
    ),
    Deprecation(
        "Tokens API for cards",
        ("POST /v1/tokens",),
        "PaymentMethods created by Stripe.js or the mobile SDKs",
        f"{DOCS}/payments/payment-methods/transitioning",
    ),
    Deprecation(
        "Plans API",
        ("* /v1/plans*",),
        "Prices (every plan id is also a price id)",
        f"{DOCS}/billing/migration/migrating-prices",
    ),
    Deprecation(
        "upcoming invoice (GET /v1/invoices/upcoming)",
        ("GET /v1/invoices/upcoming*",),
        "POST /v1/invoices/create_preview (the old endpoint is gone from 2025-03-31.basil)",
        f"{DOCS}/changelog/basil",
    ),
    Deprecation(
        "customer `account_balance`",
        ("POST /v1/customers*",),
        "`balance` (renamed in API version 2019-10-17)",
        f"{DOCS}/upgrades#2019-10-17",
        parameter=("account_balance",),
    ),
    Deprecation(
        "subscription `plan` and `quantity` at the top level",
        ("POST /v1/subscriptions*",),
        "`items[]` with a price each (removed from the top level in 2020-08-27)",
        f"{DOCS}/upgrades#2020-08-27",
        parameter=("plan",),
    ),
    Deprecation(
        "`source` on PaymentIntents",
        ("POST /v1/payment_intents*",),
        "`payment_method`",
        f"{DOCS}/payments/payment-methods/transitioning",
        parameter=("source",),
    ),
)

# `payment_method_types` on these is refused from 2026-09-30.endive on (400
# `payment_method_types_no_longer_supported`): dynamic payment methods instead.
PAYMENT_METHOD_TYPES_ENDPOINTS = (
    "POST /v1/payment_intents*",
    "POST /v1/setup_intents*",
    "POST /v1/checkout/sessions*",
)
PAYMENT_METHOD_TYPES_REFUSED_IN = "2026-09-30.endive"

# Parameters whose every use is worth an example: the deprecated ones and
# payment_method_types (as dotted paths, `account_balance`).
WATCHED_PARAMETERS = frozenset(
    {".".join(d.parameter) for d in DEPRECATIONS if d.parameter} | {"payment_method_types"}
)

# --- secrets ---------------------------------------------------------------------------

# Query parameters that carry a secret: a query string ends up in server logs, proxies
# and browser history, so a secret belongs in a header or a form body.
SECRET_QUERY_PARAMETERS = frozenset(
    {"client_secret", "key", "api_key", "secret", "password", "cvc", "number", "account_number"}
)
