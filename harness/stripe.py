"""Everything the harness knows about Stripe's wire format, in one place.

Id prefixes and what they name, the shape of API keys and client secrets, the
x-www-form-urlencoded codec with bracket nesting that every v1 request body and query
string uses, endpoint templates, and the fields that change on every run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, unquote_plus

# Prefix (without the trailing underscore) → the resource it names. Longest prefixes are
# matched first, so `sub_sched` wins over `sub` and `cs_test` over `cs`.
ID_PREFIXES: dict[str, str] = {
    "acct": "account",
    "ba": "bank_account",
    "bpc": "billing_portal_configuration",
    "bps": "billing_portal_session",
    "btok": "token",
    "card": "card",
    "cbtxn": "customer_balance_transaction",
    "ccsbtxn": "customer_cash_balance_transaction",
    "ch": "charge",
    "clock": "test_clock",
    "cn": "credit_note",
    "cnli": "credit_note_line_item",
    "cs_live": "checkout_session",
    "cs_test": "checkout_session",
    "cuss": "customer_session",
    "cus": "customer",
    "di": "discount",
    "dp": "dispute",
    "du": "dispute",
    "evt": "event",
    "fee": "application_fee",
    "file": "file",
    "fr": "fee_refund",
    "ic": "issuing_card",
    "ich": "issuing_cardholder",
    "iauth": "issuing_authorization",
    "ii": "invoiceitem",
    "il": "invoice_line_item",
    "in": "invoice",
    "ipi": "issuing_transaction",
    "link": "file_link",
    "mandate": "mandate",
    "pi": "payment_intent",
    "plan": "plan",
    "plink": "payment_link",
    "pm": "payment_method",
    "pmc": "payment_method_configuration",
    "po": "payout",
    "price": "price",
    "prod": "product",
    "promo": "promotion_code",
    "py": "payment",
    "pyr": "payment_refund",
    "qt": "quote",
    "rdr": "review",
    "re": "refund",
    "req": "request",
    "seti": "setup_intent",
    "setatt": "setup_attempt",
    "si": "subscription_item",
    "sli": "invoice_line_item",
    "src": "source",
    "sub": "subscription",
    "sub_sched": "subscription_schedule",
    "tax": "tax_id",
    "tmr": "terminal_reader",
    "tok": "token",
    "tr": "transfer",
    "trr": "transfer_reversal",
    "txcd": "tax_code",
    "txi": "tax_id",
    "txn": "balance_transaction",
    "txr": "tax_rate",
    "we": "webhook_endpoint",
    "ephkey": "ephemeral_key",
}

# Ids that are created by Stripe for every request and never refer to an object.
NON_OBJECT_PREFIXES = frozenset({"req"})

_prefix_alternatives = "|".join(sorted(ID_PREFIXES, key=len, reverse=True))
# An id: a known prefix, `_`, then 8 or more alphanumerics. The lookarounds stop a match
# inside a longer token; a client secret (`pi_X_secret_Y`) is matched separately.
# Stripe's random part is base62, so it all but always holds a digit or a capital letter;
# requiring one keeps words such as `in_progress` or `card_payments` from passing for ids.
_ID_BODY = r"(?=[a-z]*[A-Z0-9])[A-Za-z0-9]{8,}"
ID_PATTERN = re.compile(rf"(?<![A-Za-z0-9_])(?:{_prefix_alternatives})_{_ID_BODY}(?![A-Za-z0-9])")
_FULL_ID = re.compile(rf"(?:{_prefix_alternatives})_{_ID_BODY}")
# The longest known prefix followed by `_` (compare and rewrite ask for every id they see).
_PREFIX_PATTERN = re.compile(rf"(?:{_prefix_alternatives})(?=_)")

CLIENT_SECRET_PATTERN = re.compile(
    r"(?:(?:pi|seti|cs_test|cs_live)_[A-Za-z0-9]{8,}_secret_[A-Za-z0-9]+|src_client_secret_[A-Za-z0-9]+)"
)
# API keys: secret, restricted, publishable; webhook secrets; ephemeral key secrets.
API_KEY_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:sk|rk|pk|ek)_(?:test|live)_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9]{8,})"
)
# Anywhere in a value: `Bearer sk_live_…` or a quoted key is as live as the key alone.
LIVE_KEY_PATTERN = re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_live_")

# The hosts Stripe's SDKs talk to.
STRIPE_HOSTS = ("api.stripe.com", "files.stripe.com", "connect.stripe.com")


def is_stripe_id(value: object) -> bool:
    """True when `value` is exactly one Stripe object id (`cus_…`), not a client secret."""
    return (
        isinstance(value, str)
        and _FULL_ID.fullmatch(value) is not None
        and id_prefix(value) not in NON_OBJECT_PREFIXES
    )


def id_prefix(value: str) -> str:
    """The prefix of an id (`sub_sched` for `sub_sched_123…`), without the underscore."""
    known = _PREFIX_PATTERN.match(value)
    if known is not None:
        return known.group(0)
    head, _, _ = value.partition("_")
    return head


def find_ids(text: str) -> Iterator[str]:
    """Every object id in a piece of text (a path, a query string, a header value)."""
    for match in ID_PATTERN.finditer(text):
        if id_prefix(match.group(0)) not in NON_OBJECT_PREFIXES:
            yield match.group(0)


def is_live_key(key: str) -> bool:
    """A live secret or restricted key, or a value holding one: a replay with it creates
    real objects."""
    return LIVE_KEY_PATTERN.search(key) is not None


def bare_key(value: str) -> str:
    """The key in a value copied from an Authorization header, `Bearer sk_…` → `sk_…`
    (sent as it is, the harness's own `Bearer ` would come before it)."""
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    return value


# --- the form codec --------------------------------------------------------------------

FormPairs = list[tuple[str, str]]


def parse_form_pairs(encoded: str) -> FormPairs:
    """Decode `a=1&metadata%5Bk%5D=v` into [("a", "1"), ("metadata[k]", "v")], in order.

    Keys and values are percent-decoded, `+` means a space, and a key with no `=` has an
    empty value (which unsets a field in Stripe's API).
    """
    pairs: FormPairs = []
    if not encoded:
        return pairs
    for part in encoded.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


_SAFE_KEY = "[]"  # the Python SDK leaves brackets in keys unescaped


def encode_form_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    """Encode pairs the way the Python SDK does (brackets in keys left as they are)."""
    return "&".join(f"{quote(key, safe=_SAFE_KEY)}={quote(value, safe='')}" for key, value in pairs)


def form_key_path(key: str) -> list[str]:
    """`items[0][price]` → ["items", "0", "price"]; `expand[]` → ["expand", ""]."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    path = [head]
    rest = "[" + rest
    for match in re.finditer(r"\[([^\]]*)\]", rest):
        path.append(match.group(1))
    return path


def form_tree(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest decoded pairs into one tree: dicts for named keys, lists for `[]` and `[N]`.

    `expand[]=a&expand[]=b` and `expand[0]=a&expand[1]=b` give the same tree, so a request
    sent by the Python SDK compares equal to one sent by curl.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, form_key_path(key), value)
    return _lists_from_index_dicts(root)


def _insert(node: dict[str, Any], path: list[str], value: str) -> None:
    *parents, last = path
    for name in parents:
        child = node.get(name)
        if not isinstance(child, dict):
            child = {}
            node[name] = child
        node = child
    if last == "":
        # `a[]=x`: append under the next free index.
        node[str(len(node))] = value
    else:
        node[last] = value


def _lists_from_index_dicts(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists_from_index_dicts(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def encode_form_tree(tree: dict[str, Any]) -> str:
    """Encode a tree as the Python SDK does: `a[b]=1`, lists as `a[0]=x`."""
    return encode_form_pairs(flatten_form_tree(tree))


def flatten_form_tree(tree: dict[str, Any], prefix: str = "") -> FormPairs:
    pairs: FormPairs = []
    for key, value in tree.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(flatten_form_tree(value, name))
        elif isinstance(value, list):
            pairs.extend(flatten_form_tree({str(i): v for i, v in enumerate(value)}, name))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif value is None:
            pairs.append((name, ""))
        else:
            pairs.append((name, str(value)))
    return pairs


# --- endpoints -------------------------------------------------------------------------

# Collections whose objects may carry user-chosen ids (a plan called `gold`), so the path
# segment after them is an id whatever it looks like.
CUSTOM_ID_COLLECTIONS = {
    "plans": "plan",
    "coupons": "coupon",
    "products": "product",
    "skus": "sku",
    "tax_codes": "tax_code",
    "reporting/report_types": "report_type",
}

# Path segments that are actions or namespaces, never ids.
_ACTION_SEGMENTS = frozenset(
    {
        "search",
        "upcoming",
        "create_preview",
        "lines",
        "history",
        "capture",
        "confirm",
        "cancel",
        "pay",
        "finalize",
        "void",
        "send",
        "mark_uncollectible",
        "attach",
        "detach",
        "verify",
        "refund",
        "refunds",
        "reject",
        "close",
        "expire",
        "resume",
        "release",
        "apply_customer_balance",
        "increment_authorization",
        "line_items",
        "verify_microdeposits",
        "advance",
        "test_helpers",
        "sessions",
        "checkout",
        "billing_portal",
        "preview",
        "upcoming_lines",
        "sources",
        "tax_ids",
        "balance_transactions",
        "subscriptions",
        "payment_methods",
        "retrieve",
    }
)


def is_custom_id_segment(previous: str, segment: str) -> bool:
    """True when a path segment names an object by a user-chosen id (`gold` in
    `/v1/plans/gold`), not an action (`/v1/plans/search`)."""
    return bool(segment) and previous in CUSTOM_ID_COLLECTIONS and segment not in _ACTION_SEGMENTS


def endpoint_template(method: str, path: str) -> str:
    """`POST /v1/customers/cus_X/sources` → `POST /v1/customers/{customer}/sources`.

    Ids are replaced by the name of what their prefix names; a segment after a collection
    that allows user-chosen ids (`/v1/plans/gold`) is replaced too.
    """
    segments = path.split("?", 1)[0].split("/")
    out: list[str] = []
    for index, segment in enumerate(segments):
        previous = segments[index - 1] if index > 0 else ""
        if segment and _FULL_ID.fullmatch(segment):
            out.append("{" + ID_PREFIXES.get(id_prefix(segment), "id") + "}")
        elif segment and previous in CUSTOM_ID_COLLECTIONS and segment not in _ACTION_SEGMENTS:
            out.append("{" + CUSTOM_ID_COLLECTIONS[previous] + "}")
        else:
            out.append(segment)
    return f"{method.upper()} {'/'.join(out)}"


# --- volatile fields -------------------------------------------------------------------

# Unix timestamps: compared as offsets from their own request's time.
TIMESTAMP_FIELDS = frozenset(
    {
        "created",
        "updated",
        "canceled_at",
        "ended_at",
        "start_date",
        "trial_start",
        "trial_end",
        "current_period_start",
        "current_period_end",
        "period_start",
        "period_end",
        "billing_cycle_anchor",
        "next_payment_attempt",
        "available_on",
        "arrival_date",
        "due_date",
        "effective_at",
        "finalized_at",
        "paid_at",
        "voided_at",
        "marked_uncollectible_at",
        "cancel_at",
        "expires_at",
        "date",
        "webhooks_delivered_at",
        "start",
        "end",
        "last_finalization_error_at",
    }
)

# Fields whose value changes per run or per account and is never a difference.
VOLATILE_FIELDS = frozenset(
    {
        "client_secret",
        "hosted_invoice_url",
        "invoice_pdf",
        "receipt_url",
        "receipt_number",
        "number",
        "invoice_prefix",
        "next_invoice_sequence",
        "fingerprint",
        "risk_score",
        "request",
        "pending_webhooks",
        "idempotency_key",
        "url",
    }
)

# Response headers that differ on every request.
VOLATILE_HEADERS = frozenset(
    {
        "date",
        "request-id",
        "content-length",
        "server",
        "connection",
        "keep-alive",
        "idempotency-key",
        "original-request",
        "stripe-should-retry",
        "x-stripe-routing-context-priority-tier",
    }
)

# Request headers the harness owns, each with why a scenario may not set it: a key in a
# scenario would be a secret on disk, and Idempotency-Keys are namespaced per run and
# target by the replay itself.
HARNESS_HEADERS = {
    "authorization": "put the key in an environment variable and name it in api_key_env",
    "idempotency-key": "the replay rewrites every Idempotency-Key per run and target",
    "host": "set the target's url instead",
    "content-length": "it is computed for every request",
}

# Request headers the SDK adds that carry telemetry, not meaning.
SDK_METADATA_HEADERS = frozenset(
    {"x-stripe-client-user-agent", "x-stripe-client-telemetry", "user-agent"}
)


# --- test mode -------------------------------------------------------------------------

# Stripe's public test card numbers by their last four digits: a replay to a test-mode
# target sends the one whose last four match a redacted `<redacted:card:LAST4>`, so a
# decline, a 3DS challenge or an insufficient-funds failure happens again.
TEST_CARDS: dict[str, str] = {
    "4242": "4242424242424242",  # succeeds
    "0002": "4000000000000002",  # generic decline
    "9995": "4000000000009995",  # insufficient funds
    "9987": "4000000000009987",  # lost card
    "9979": "4000000000009979",  # stolen card
    "0069": "4000000000000069",  # expired card
    "0127": "4000000000000127",  # incorrect CVC
    "0119": "4000000000000119",  # processing error
    "0341": "4000000000000341",  # attaches, then fails on charge
    "3155": "4000002500003155",  # 3DS required unless set up off-session
    "3184": "4000002760003184",  # 3DS always required
    "3063": "4000000000003063",  # 3DS required
    "0077": "4000000000000077",  # succeeds, funds available at once
    "5556": "4000056655665556",  # Visa debit
    "4444": "5555555555554444",  # Mastercard
    "8210": "5200828282828210",  # Mastercard debit
    "0005": "378282246310005",  # American Express
    "1117": "6011111111111117",  # Discover
    "0004": "3056930009020004",  # Diners Club
    "0505": "3566002020360505",  # JCB
}
DEFAULT_TEST_CARD = "4242424242424242"
TEST_CVC = "123"

# Magic test-mode values that look like ids but name no object of the account:
# `tok_visa`, `tok_chargeDeclined`, `pm_card_visa`, `pm_card_chargeDeclinedInsufficientFunds`.
TEST_TOKEN_PATTERN = re.compile(
    r"^(?:tok|pm_card|src|btok)_(?:visa|mastercard|amex|discover|diners|jcb|unionpay|"
    r"cartesBancaires|bypassPending|threeDSecure|charge|risk|cvc|avs|createDispute|"
    r"createDisputeInquiry|refundFail|bankAccount|us|ca|gb|eu)[A-Za-z0-9_]*$"
)


def is_test_token(value: str) -> bool:
    """A test-mode magic token (`tok_visa`, `pm_card_chargeDeclined`), not an object id."""
    return TEST_TOKEN_PATTERN.match(value) is not None


def resource_of(path: str) -> str:
    """The collection a path acts on: `/v1/customers/cus_X/sources` → `customers`,
    `/v1/test_helpers/test_clocks/clock_X/advance` → `test_clocks`, `/v2/core/events` →
    `v2/core/events`."""
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    if segments and segments[0] == "v1":
        segments = segments[1:]
        if segments and segments[0] == "test_helpers":
            segments = segments[1:]
        return segments[0] if segments else ""
    if segments and segments[0] == "v2":
        return "/".join(segments[:3])
    return segments[0] if segments else ""


ALL_RESOURCES = "*"
# Which writes can change what a list (or singleton) read of a collection answers: a
# subscription write creates invoices and payment intents, a payment intent creates
# charges, every money movement changes the balance and emits events.
READ_DEPENDS_ON: dict[str, frozenset[str]] = {
    "balance": frozenset({ALL_RESOURCES}),
    "balance_transactions": frozenset({ALL_RESOURCES}),
    "events": frozenset({ALL_RESOURCES}),
    "account": frozenset({ALL_RESOURCES}),
    "charges": frozenset({"charges", "payment_intents", "invoices", "subscriptions", "refunds"}),
    # Customers embed their subscriptions (with latest_invoice), sources and default
    # payment method in older API versions and in localstripe.
    "customers": frozenset(
        {
            "customers",
            "subscriptions",
            "subscription_items",
            "invoices",
            "invoiceitems",
            "payment_methods",
            "sources",
            "tax_ids",
        }
    ),
    "payment_intents": frozenset({"payment_intents", "invoices", "subscriptions"}),
    "invoices": frozenset(
        {"invoices", "invoiceitems", "subscriptions", "subscription_items", "customers"}
    ),
    "invoiceitems": frozenset({"invoiceitems", "invoices", "subscriptions"}),
    "subscriptions": frozenset(
        {"subscriptions", "subscription_items", "subscription_schedules", "customers"}
    ),
    "payment_methods": frozenset(
        {"payment_methods", "customers", "setup_intents", "payment_intents"}
    ),
    "setup_intents": frozenset({"setup_intents", "customers"}),
    "refunds": frozenset({"refunds", "charges", "payment_intents"}),
    "payouts": frozenset({ALL_RESOURCES}),
}


def read_depends_on(resource: str) -> frozenset[str]:
    """The collections whose writes a read of `resource` can see (`*`: every write)."""
    return READ_DEPENDS_ON.get(resource, frozenset({resource}))
