"""Everything the harness knows about Stripe's wire format, in one place.

Id prefixes and what they name, the shape of API keys and client secrets, the
x-www-form-urlencoded codec with bracket nesting that every v1 request body and query
string uses, endpoint templates, the fields that change on every run, what each write
can change (which lists of everything must wait for it), and Stripe's test values for
redacted cards and bank details.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
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


def _id_regex(prefixes: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(prefixes, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})_{_ID_BODY}(?![A-Za-z0-9])")


ID_PATTERN = _id_regex(ID_PREFIXES)
_FULL_ID = re.compile(rf"(?:{_prefix_alternatives})_{_ID_BODY}")
# Anything shaped like a generated id, whatever its prefix: where a field is known to hold
# an id (an expandable reference), a prefix no table lists is still an id's.
GENERATED_ID = re.compile(rf"[a-z]+(?:_[a-z]+)*_{_ID_BODY}")
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


@cache
def id_pattern(more_prefixes: frozenset[str] = frozenset()) -> re.Pattern[str]:
    """ID_PATTERN with more prefixes (those an API version's catalogue knows)."""
    if more_prefixes <= ID_PREFIXES.keys():
        return ID_PATTERN
    return _id_regex(ID_PREFIXES.keys() | more_prefixes)


def is_stripe_id(value: object) -> bool:
    """True when `value` is exactly one Stripe object id (`cus_…`), not a client secret."""
    return (
        isinstance(value, str)
        and _FULL_ID.fullmatch(value) is not None
        and id_prefix(value) not in NON_OBJECT_PREFIXES
    )


# An id of a known kind whatever the case of its random part. About one random part of
# 14 characters in five million is all lowercase (localstripe's ids, Stripe's customer and
# product ids): ID_PATTERN takes it for a word, as it must `in_progress`. Where the place
# can hold only an id of that kind, it is one (is_id_of_field, is_id_in_collection; the id
# map, beside an id of the same kind); in a text, one an id map knows.
ANY_CASE_ID_PATTERN = re.compile(
    rf"(?<![A-Za-z0-9_])(?:{_prefix_alternatives})_[A-Za-z0-9]{{8,}}(?![A-Za-z0-9])"
)


def is_id_shaped(value: str) -> bool:
    """`is_stripe_id` whatever the case of the random part: `cus_abcdefghijklmn` too, and
    so a word such as `in_progress`. Ask it only of a value whose place holds an id."""
    return (
        ANY_CASE_ID_PATTERN.fullmatch(value) is not None
        and id_prefix(value) not in NON_OBJECT_PREFIXES
    )


def _shaped_kind(value: str) -> str | None:
    """The kind of object an id-shaped text (`is_id_shaped`) names; None for another text."""
    return ID_PREFIXES.get(id_prefix(value)) if is_id_shaped(value) else None


def is_generated_id(value: str) -> bool:
    """An object's own id (its `id` field) as Stripe makes them, whatever the case of its
    random part; not one of the kinds whose ids a user may choose (`plan_professional`)."""
    if is_stripe_id(value):
        return True
    kind = _shaped_kind(value)
    return kind is not None and kind not in _CHOSEN_KINDS


def is_id_of_field(name: str, value: str) -> bool:
    """Whether `value` is an id of the kind the field `name` is named for: `customer` or
    `default_customer` holding `cus_…`, `default_payment_method` holding `pm_…`, whatever
    the case of its random part."""
    kind = _shaped_kind(value)
    return kind is not None and (name == kind or name.endswith("_" + kind))


def is_id_in_collection(collection: str, value: str) -> bool:
    """Whether the path segment `value` after `collection` (`/v1/customers/cus_…`) is an
    id of an object listed there, whatever the case of its random part."""
    kind = _shaped_kind(value)
    return kind is not None and _listed_in(kind) == collection


def is_account_id(value: object) -> bool:
    """True when `value` is a connected account's id (`acct_…`): the account a Connect
    request acts for (its Stripe-Account header) or names (`transfer_data[destination]`)."""
    return is_stripe_id(value) and id_prefix(str(value)) == "acct"


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


_KEY_MODE = re.compile(r"(?<![A-Za-z0-9])(?:sk|rk|pk)_(test|live)_")


@lru_cache(maxsize=256)
def api_key_mode(authorization: str | None) -> str:
    """`test`, `live` or `unknown`: the mode of the key an Authorization header carries,
    Bearer or Basic, whole or redacted (`Bearer sk_test_<redacted:1a2b3c4d>`)."""
    if not authorization:
        return "unknown"
    scheme, _, credentials = authorization.strip().partition(" ")
    text = credentials or scheme
    if scheme.lower() == "basic":
        try:
            text = base64.b64decode(credentials.strip(), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return "unknown"
    found = _KEY_MODE.search(text)
    return found.group(1) if found is not None else "unknown"


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


# Deeper than this, a request's parameters are not walked (a hostile body must not take a
# reader down).
_PARAMETER_DEPTH = 24


def request_form_tree(method: str, query: str, body: str | bytes) -> dict[str, Any]:
    """The parameters a request sends, as one form tree: the query string of a GET or a
    DELETE, the body of anything else ({} for a body that is not text)."""
    text = query if method.upper() in ("GET", "DELETE") else body
    if not isinstance(text, str) or not text:
        return {}
    return form_tree(parse_form_pairs(text))


def parameter_paths(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Each parameter a form tree sends, list positions left out (`items.price`);
    metadata's keys are the customer's own, never parameters."""
    if isinstance(tree, list):
        for item in tree:
            yield from parameter_paths(item, prefix)
        return
    if not isinstance(tree, dict) or len(prefix) > _PARAMETER_DEPTH:
        return
    for name, value in tree.items():
        path = (*prefix, str(name))
        yield path
        if name != "metadata":
            yield from parameter_paths(value, path)


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

# The kinds of object whose ids a user may choose.
_CHOSEN_KINDS = frozenset(CUSTOM_ID_COLLECTIONS.values())

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
        # Every id holds a `_`: most segments (`v1`, `customers`) skip the pattern.
        if "_" in segment and _FULL_ID.fullmatch(segment):
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

# Stripe's test IBANs (SEPA Direct Debit) by country, the one that succeeds first; then
# the ones that succeed after a delay, fail, fail after a delay, succeed and are disputed,
# and fail for insufficient funds. A redacted IBAN is replayed as the test IBAN of its
# country with the same last four characters, so a failure happens again, else as the
# first.
TEST_IBANS: dict[str, tuple[str, ...]] = {
    "AT": (
        "AT611904300234573201",
        "AT321904300235473204",
        "AT861904300235473202",
        "AT051904300235473205",
        "AT591904300235473203",
        "AT981904300002222227",
    ),
    "BE": (
        "BE62510007547061",
        "BE78510007547064",
        "BE68539007547034",
        "BE51510007547065",
        "BE08510007547063",
        "BE90510002222227",
    ),
    "CH": (
        "CH9300762011623852957",
        "CH8656663438253651553",
        "CH5362200119938136497",
        "CH1843597160341964438",
        "CH1260378413965193069",
        "CH1800762000002222227",
    ),
    "DE": (
        "DE89370400440532013000",
        "DE08370400440532013003",
        "DE62370400440532013001",
        "DE78370400440532013004",
        "DE35370400440532013002",
        "DE65370400440002222227",
    ),
    "EE": (
        "EE382200221020145685",
        "EE222200221020145682",
        "EE762200221020145680",
        "EE922200221020145683",
        "EE492200221020145681",
        "EE672200000002222227",
    ),
    "ES": (
        "ES0700120345030000067890",
        "ES2300120345030000067893",
        "ES9121000418450200051332",
        "ES9300120345030000067894",
        "ES5000120345030000067892",
        "ES1700120345000002222227",
    ),
    "FI": (
        "FI2112345600000785",
        "FI3712345600000788",
        "FI9112345600000786",
        "FI1012345600000789",
        "FI6412345600000787",
        "FI6712345602222227",
    ),
    "FR": (
        "FR1420041010050500013M02606",
        "FR3020041010050500013M02609",
        "FR8420041010050500013M02607",
        "FR7920041010050500013M02600",
        "FR5720041010050500013M02608",
        "FR9720041010050000002222227",
    ),
    "GB": (
        "GB82WEST12345698765432",
        "GB98WEST12345698765435",
        "GB55WEST12345698765433",
        "GB71WEST12345698765436",
        "GB28WEST12345698765434",
        "GB70WEST12345602222227",
    ),
    "GI": (
        "GI60MPFS599327643783385",
        "GI08RRNW626436291644533",
        "GI41SAFA461293238477751",
        "GI50LROG772261344693297",
        "GI26KJBC361883934534696",
        "GI14NWBK000000002222227",
    ),
    "HR": (
        "HR7624020064583467589",
        "HR6323600002337876649",
        "HR2725000096983499248",
        "HR6723600004878117427",
        "HR8724840081455523553",
        "HR7424020060002222227",
    ),
    "IE": (
        "IE29AIBK93115212345678",
        "IE24AIBK93115212345671",
        "IE02AIBK93115212345679",
        "IE94AIBK93115212345672",
        "IE51AIBK93115212345670",
        "IE10AIBK93115202222227",
    ),
    "LI": (
        "LI0508800636123378777",
        "LI4408800387787111369",
        "LI1208800143823175626",
        "LI4908800356441975566",
        "LI7708800125525347723",
        "LI2408800000002222227",
    ),
    "LT": (
        "LT121000011101001000",
        "LT281000011101001003",
        "LT821000011101001001",
        "LT981000011101001004",
        "LT551000011101001002",
        "LT591000000002222227",
    ),
    "LU": (
        "LU280019400644750000",
        "LU440019400644750003",
        "LU980019400644750001",
        "LU170019400644750004",
        "LU710019400644750002",
        "LU900010000002222227",
    ),
    "NL": (
        "NL39RABO0300065264",
        "NL55RABO0300065267",
        "NL91ABNA0417164300",
        "NL28RABO0300065268",
        "NL82RABO0300065266",
    ),
    "NO": (
        "NO9386011117947",
        "NO8886011117940",
        "NO6686011117948",
        "NO6186011117941",
        "NO3986011117949",
        "NO0586012222227",
    ),
    "PT": (
        "PT50000201231234567890154",
        "PT66000201231234567890157",
        "PT23000201231234567890155",
        "PT39000201231234567890158",
        "PT93000201231234567890156",
        "PT05000201230000002222227",
    ),
    "SE": (
        "SE3550000000054910000003",
        "SE5150000000054910000006",
        "SE0850000000054910000004",
        "SE2450000000054910000007",
        "SE7850000000054910000005",
        "SE2850000000000002222227",
    ),
}
DEFAULT_IBAN_COUNTRY = "DE"
# Stripe's US test bank account (ACH) numbers, all with the test routing number: the one
# that succeeds first, then closed, no account, insufficient funds, debit not authorized,
# invalid currency, microdeposits that fail.
TEST_ROUTING_NUMBER = "110000000"
# Identity numbers that verify in test mode (a redacted one is replayed as its field's):
# a full US SSN or other id number, and the last four of an SSN.
TEST_IDENTITY_NUMBERS = {"id_number": "000000000", "ssn": "000000000", "ssn_last_4": "0000"}
# The branch numbers of Stripe's test bank accounts, by the field that holds one (a redacted
# one is replayed as its field's): Australia's BSB (BECS), the UK's sort code (Bacs),
# Canada's transit and institution numbers (pre-authorized debits).
TEST_BRANCH_NUMBERS = {
    "bsb_number": "000000",
    "sort_code": "108800",
    "transit_number": "11000",
    "institution_number": "000",
}
# A card number that fails the Luhn check: Stripe refuses it as `incorrect_number`, as it
# refused the mistyped number a recording redacted.
INVALID_TEST_CARD = "4242424242424241"
TEST_ACCOUNT_NUMBERS = (
    "000123456789",
    "000111111113",
    "000111111116",
    "000222222227",
    "000333333335",
    "000444444440",
    "000666666661",
)


def iban_for_replay(country: str | None, last4: str) -> tuple[str, str | None]:
    """The test IBAN a redacted one is replayed as, and a note when it is not one of its
    country with the same last four (`country` None: a marker that did not keep it)."""
    countries = [country] if country else [DEFAULT_IBAN_COUNTRY, *sorted(TEST_IBANS)]
    for name in countries:
        for iban in TEST_IBANS.get(name, ()):
            if last4 and iban.endswith(last4):
                return iban, None
    home = country if country in TEST_IBANS else DEFAULT_IBAN_COUNTRY
    iban = TEST_IBANS[home][0]
    if country and country not in TEST_IBANS:
        return iban, f"IBAN of {country} has no test IBAN of its country; sent {iban}"
    return iban, f"IBAN ending {last4} has no test IBAN with those last four; sent {iban}"


def account_number_for_replay(last4: str) -> tuple[str, str | None]:
    """The US test account number a redacted one is replayed as (with the test routing
    number), and a note when none ends with the same last four."""
    for number in TEST_ACCOUNT_NUMBERS:
        if last4 and number.endswith(last4):
            return number, None
    number = TEST_ACCOUNT_NUMBERS[0]
    return number, f"account number ending {last4} has no test account; sent {number}"


# Magic test-mode values that look like ids but name no object of the account:
# `tok_visa`, `tok_chargeDeclined`, `pm_card_visa`, `pm_card_chargeDeclinedInsufficientFunds`,
# `tok_avsLine1Fail`, `pm_card_threeDSecure2Required`, `btok_us_verified`. A stem is
# followed by words, never by random characters: `tok_us9nIuVJJxulwB`, a token localstripe
# made (ids of 14 random letters and digits), starts with the stem `us` and is an id.
TEST_TOKEN_PATTERN = re.compile(
    r"^(?:tok|pm_card|src|btok)_(?:visa|mastercard|amex|discover|diners|jcb|unionpay|"
    r"cartesBancaires|bypassPending|threeDSecure|charge|risk|cvc|avs|createDispute|"
    r"createDisputeInquiry|refundFail|bankAccount|us|ca|gb|eu)"
    # Then words: `_debit`, `Declined`, `InsufficientFunds`, `2Required`, `_threeDSecure`.
    r"(?:_[a-z]{2,}|_?threeDSecure|[A-Z][a-z]{2,}|[0-9]+(?=[A-Z_]|$))*$"
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


# The collection an object is listed in, where it is not its object name + "s".
_LISTED_IN = {
    "card": "sources",
    "bank_account": "sources",
    "checkout_session": "checkout",
    "billing_portal_session": "billing_portal",
    "billing_portal_configuration": "billing_portal",
    "invoice_line_item": "invoices",
    "issuing_card": "issuing",
    "issuing_cardholder": "issuing",
    "issuing_authorization": "issuing",
    "issuing_transaction": "issuing",
}


def collection_of(object_id: str) -> str:
    """The collection an object is listed in, from its id: `ch_…` → `charges`, `txn_…` →
    `balance_transactions`; "" for an id of no known kind (a plan called `gold`)."""
    if not is_stripe_id(object_id):
        return ""
    kind = ID_PREFIXES.get(id_prefix(object_id), "")
    return _listed_in(kind) if kind else ""


def _listed_in(kind: str) -> str:
    """The collection objects of `kind` are listed in."""
    return _LISTED_IN.get(kind, kind + "s")


ALL_RESOURCES = "*"


@dataclass(frozen=True, slots=True)
class Effect:
    """The collections an exchange can change (ALL_RESOURCES: any), and why."""

    collections: frozenset[str]
    why: str

    def touches(self, collections: frozenset[str]) -> bool:
        """True when a read of `collections` can show this effect."""
        return (
            ALL_RESOURCES in self.collections
            or ALL_RESOURCES in collections
            or not self.collections.isdisjoint(collections)
        )


_MONEY = ("balance", "balance_transactions")
_BILLING = (
    "subscriptions",
    "subscription_items",
    "subscription_schedules",
    "invoices",
    "invoiceitems",
    "credit_notes",
    "payment_intents",
    "charges",
    "customers",
    *_MONEY,
)


def _effect(why: str, *collections: str) -> Effect:
    # Nearly every write emits events, and events list all of them.
    return Effect(frozenset({*collections, "events"}), why)


_PRICING = _effect(
    "a plan or price can create its product; subscriptions, their items and invoice lines "
    "embed their plan or price",
    "plans",
    "prices",
    "products",
    "subscriptions",
    "subscription_items",
    "invoices",
    "invoiceitems",
    "customers",
)


# What a write (POST, DELETE) to a collection can change: its own objects, the
# collections whose objects embed them (a customer its sources, in older API versions its
# subscriptions), and what Stripe makes as a side effect (a charge from a payment intent,
# an invoice from a subscription, events from nearly everything). The list of each entry is
# complete: a read of a collection it does not name cannot see the write. A write to a
# collection not named here may change anything.
WRITE_EFFECTS: dict[str, Effect] = {
    "customers": _effect(
        "a customer embeds its sources, tax ids, discount and (in older API versions) its "
        "subscriptions; deleting one cancels its subscriptions, drops its draft invoices and "
        "detaches its payment methods",
        "customers",
        "sources",
        "payment_methods",
        "tax_ids",
        "subscriptions",
        "subscription_items",
        "invoices",
        "invoiceitems",
    ),
    "payment_methods": _effect(
        "attaching or detaching a payment method changes its customer's sources and default "
        "payment method",
        "payment_methods",
        "customers",
        "sources",
    ),
    "sources": _effect(
        "a source is attached to its customer", "sources", "customers", "payment_methods"
    ),
    "tokens": _effect("a token is only ever used by a later request", "tokens"),
    "setup_intents": _effect(
        "confirming a setup intent attaches its payment method to the customer and may "
        "create a mandate",
        "setup_intents",
        "setup_attempts",
        "payment_methods",
        "customers",
        "sources",
        "mandates",
    ),
    "payment_intents": _effect(
        "confirming or capturing a payment intent creates a charge and balance transactions, "
        "may attach its payment method, pay an invoice or open a dispute",
        "payment_intents",
        "charges",
        "refunds",
        "disputes",
        "reviews",
        "payment_methods",
        "sources",
        "mandates",
        *_BILLING,
    ),
    "charges": _effect(
        "a charge moves money; capturing or refunding one changes its payment intent",
        "charges",
        "payment_intents",
        "refunds",
        "disputes",
        "reviews",
        "customers",
        "sources",
        *_MONEY,
    ),
    "refunds": _effect(
        "a refund changes its charge and payment intent and moves money",
        "refunds",
        "charges",
        "payment_intents",
        "invoices",
        "credit_notes",
        *_MONEY,
    ),
    "disputes": _effect(
        "a dispute changes its charge and moves money",
        "disputes",
        "charges",
        "payment_intents",
        *_MONEY,
    ),
    "invoices": _effect(
        "finalising or paying an invoice creates its payment intent and charge, moves money, "
        "and changes its subscription and its customer's balance",
        "refunds",
        *_BILLING,
    ),
    "invoiceitems": _effect(
        "an invoice item is a line of its customer's draft or next invoice",
        "invoiceitems",
        "invoices",
        "customers",
    ),
    "subscriptions": _effect(
        "a subscription invoices and charges at once, and its customer embeds it in older "
        "API versions",
        *_BILLING,
    ),
    "subscription_items": _effect("an item changes its subscription, which invoices", *_BILLING),
    "subscription_schedules": _effect(
        "a schedule creates and changes subscriptions, which invoice", *_BILLING
    ),
    "credit_notes": _effect(
        "a credit note changes its invoice, may refund a charge and credit the customer",
        "refunds",
        *_BILLING,
    ),
    "products": _effect("prices and plans belong to their product", "products", "prices", "plans"),
    "plans": _PRICING,
    "prices": _PRICING,
    "coupons": _effect(
        "customers, subscriptions and invoices embed the coupon of their discount",
        "coupons",
        "promotion_codes",
        "customers",
        "subscriptions",
        "invoices",
    ),
    "promotion_codes": _effect(
        "discounts embed their promotion code",
        "promotion_codes",
        "customers",
        "subscriptions",
        "invoices",
    ),
    "tax_rates": _effect(
        "subscriptions, their items and invoices embed their tax rates",
        "tax_rates",
        "subscriptions",
        "subscription_items",
        "invoices",
        "invoiceitems",
    ),
    "payouts": _effect("a payout moves money out of the balance", "payouts", *_MONEY),
    "webhook_endpoints": _effect("only webhook endpoints", "webhook_endpoints"),
    "ephemeral_keys": _effect("only ephemeral keys", "ephemeral_keys"),
    "files": _effect("only files and their links", "files", "file_links"),
    "file_links": _effect("only file links", "file_links"),
}

# Reads that change something: localstripe emits a `balance.available` event the first
# time the balance is read, and stores the upcoming invoice it computes.
READ_EFFECTS: dict[str, Effect] = {
    "balance": Effect(
        frozenset({"events"}), "localstripe emits balance.available when the balance is read"
    ),
    "invoices/upcoming": Effect(
        frozenset({"invoices", "invoiceitems", "events"}),
        "localstripe stores the upcoming invoice it computes",
    ),
}

# Every collection the tables above speak of: a read of any other can see any write.
KNOWN_COLLECTIONS = frozenset(WRITE_EFFECTS).union(
    *(effect.collections for effect in WRITE_EFFECTS.values())
) | {"balance"}


def write_effect(resource: str) -> Effect:
    """What a write to `resource` can change (anything, unless WRITE_EFFECTS says)."""
    known = WRITE_EFFECTS.get(resource)
    if known is not None:
        return known
    return Effect(
        frozenset({ALL_RESOURCES}),
        f"{resource or 'this path'} is not known to leave any list unchanged",
    )


def read_effect(path: str) -> Effect | None:
    """What a read of `path` changes, for the few reads that change something."""
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    if segments[:1] != ["v1"]:
        return None
    found = READ_EFFECTS.get("/".join(segments[1:]))
    return found if found is not None else READ_EFFECTS.get("/".join(segments[1:3]))


def read_collections(resource: str, expands: bool) -> frozenset[str]:
    """What a read of everything in `resource` shows: that collection, or every collection
    when it expands other objects into its answer or is not one the harness knows."""
    if expands or resource not in KNOWN_COLLECTIONS:
        return frozenset({ALL_RESOURCES})
    return frozenset({resource})
