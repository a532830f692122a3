"""Find and rewrite the Stripe ids a request refers to, and turn a recorded request into
the one a target is sent: its ids, key, Idempotency-Key, and Stripe's test values for
redacted cards and bank details (pure functions).

One walker serves both the planner (which ids does this request use?) and the replay
(replace each by the target's id). It looks at the path, the query string, a form body
(bracket keys in either encoding, left byte for byte as they were), a JSON body, and the
Stripe-Account / Stripe-Context headers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, unquote_plus

from harness.formats.untrusted import JSONProblem, load_json
from harness.model import Headers, Request
from harness.replay.credentials import INVALID_API_KEY, Credential
from harness.stripe import (
    CLIENT_SECRET_PATTERN,
    CUSTOM_ID_COLLECTIONS,
    DEFAULT_TEST_CARD,
    INVALID_TEST_CARD,
    TEST_BRANCH_NUMBERS,
    TEST_CARDS,
    TEST_CVC,
    TEST_IDENTITY_NUMBERS,
    TEST_ROUTING_NUMBER,
    account_number_for_replay,
    form_key_path,
    iban_for_replay,
    is_account_id,
    is_custom_id_segment,
    is_id_in_collection,
    is_id_of_field,
    is_id_shaped,
    is_stripe_id,
    is_test_token,
)
from harness.stripe.times import REQUEST_TIME_FIELDS, shiftable_time, time_parameter

# Kinds of value the walker hands to its visitor.
ID = "id"  # a prefixed object id: cus_…, pi_…
CUSTOM = "custom"  # a value in a field that may hold a user-chosen id (plan=gold)
SECRET = "secret"  # a client secret: pi_…_secret_…
CARD = "card"  # a redacted card number: <redacted:card:4242>
CVC = "cvc"  # a redacted CVC
IBAN = "iban"  # a redacted IBAN: <redacted:iban:DE:3000> (or an older marker in an iban field)
ACCOUNT = "account"  # a redacted bank account number: <redacted:bank_account:6789>
ROUTING = "routing"  # a routing number, sent with a redacted account number, or redacted
IDENTITY = "identity"  # a redacted identity number: <redacted:id_number>, <redacted:ssn_last_4>
BRANCH = "branch"  # a redacted bank branch number: <redacted:sort_code>, <redacted:bsb_number>
CURSOR = "cursor"  # an id used as a page cursor (starting_after=cus_…): it scopes nothing
TIME = "time"  # an absolute Unix time (trial_end=1795464128), visited only when asked for

# Where in a request a value was found.
PATH, QUERY, BODY, HEADER = "path", "query", "body", "header"

# Form and JSON fields whose value may be a user-chosen id (plans, coupons and products can
# have one, and a plan id is also accepted where a price id is expected).
CUSTOM_ID_FIELDS = frozenset(CUSTOM_ID_COLLECTIONS.values()) | {"price"}
# Request headers whose value is an id (the connected account a request acts for).
ID_HEADERS = frozenset({"stripe-account", "stripe-context"})
# Their names' lengths: most header names are let go without lowering them.
_ID_HEADER_LENGTHS = frozenset(len(name) for name in ID_HEADERS)
# List parameters that page from an object: the id must be rewritten, but a list paged
# from a customer is still a list of all customers, not a request about that customer.
CURSOR_FIELDS = frozenset({"starting_after", "ending_before"})
# Fields whose values are codes or words, never ids, even when one looks like an id
# (`"code": "card_declined"` has the form of a card id).
NOT_ID_FIELDS = frozenset(
    {
        "code",
        "decline_code",
        "type",
        "object",
        "status",
        "param",
        "message",
        "doc_url",
        "url",
        "reason",
        "failure_code",
        "failure_message",
        "network_status",
        "request_log_url",
        "api_version",
        "currency",
        "interval",
        "billing_scheme",
    }
)

# The last four digits, and how the number was written when in groups (`nnnn_nnnn…`:
# `n` a digit, `_` a blank; harness.capture.redact.card_marker).
_CARD_MARKER = re.compile(r"^<redacted:card:(\d{4})(?::([n_.-]+))?>$")
_CVC_MARKER = "<redacted:cvc>"
_BANK_MARKER = re.compile(r"^<redacted:(?:iban:([A-Z]{2}):|bank_account:)([A-Za-z0-9]{0,4})>$")
_ACCOUNT_MARKER = "<redacted:bank_account:"
_ROUTING_MARKER = "<redacted:routing_number>"
_IDENTITY_MARKER = re.compile(r"^<redacted:(id_number|ssn|ssn_last_4)>$")
_BRANCH_MARKER = re.compile(rf"^<redacted:({'|'.join(TEST_BRANCH_NUMBERS)})>$")
# A mistyped card a card's field held (it fails the Luhn check), with its last four.
_INVALID_CARD_MARKER = re.compile(r"^<redacted:card_invalid(?::\d{4})?>$")
# Any redaction marker (harness.capture.redact) still in a request after rewriting.
_MARKER = re.compile(r"<redacted(?::[^<>]*)?>")
# A client secret as recorded: the object id is kept, the secret part may be redacted.
_SECRET_VALUE = re.compile(
    rf"^(?:{CLIENT_SECRET_PATTERN.pattern}|(?:pi|seti)_[A-Za-z0-9]{{8,}}_secret_<redacted>)$"
)

Visitor = Callable[[str, str, str], str | None]
"""Called with (kind, value, where); returns a replacement, or None to leave it as it is.
`where` is PATH, QUERY, BODY or HEADER; for a TIME it also names the parameter after a
colon (`query:created[gte]`)."""


def _classify(field_name: str | None, value: str) -> str | None:
    if not value or field_name in NOT_ID_FIELDS:
        return None
    if "_" in value:
        if is_stripe_id(value):
            if is_test_token(value):
                return None
            return CURSOR if field_name in CURSOR_FIELDS else ID
        if _SECRET_VALUE.match(value):
            return SECRET
        if field_name is not None and field_name not in CUSTOM_ID_FIELDS:
            # An id whose random part is all lowercase, in a field that holds one.
            if field_name in CURSOR_FIELDS:
                if is_id_shaped(value):
                    return CURSOR
            elif is_id_of_field(field_name, value):
                return ID
    if value[0] == "<":
        if _CARD_MARKER.match(value) or _INVALID_CARD_MARKER.match(value):
            return CARD
        if value == _CVC_MARKER:
            return CVC
        bank = _BANK_MARKER.match(value)
        if bank is not None:
            return IBAN if bank.group(1) or field_name == "iban" else ACCOUNT
        if _IDENTITY_MARKER.match(value):
            return IDENTITY
        if _BRANCH_MARKER.match(value):
            return BRANCH
    if field_name in CUSTOM_ID_FIELDS:
        return CUSTOM
    if field_name == "routing_number":
        return ROUTING
    return None


def _field_name(path: list[str]) -> str | None:
    """The name a form value is filed under: `items[0][price]` → `price`."""
    for part in reversed(path):
        if part and not part.isdigit():
            return part
    return None


def _walk_path(path: str, visit: Visitor) -> str:
    segments = path.split("/")
    changed = False
    for index, segment in enumerate(segments):
        if not segment:
            continue
        kind: str | None = None
        if is_stripe_id(segment) and not is_test_token(segment):
            kind = ID
        elif index > 0 and is_custom_id_segment(segments[index - 1], segment):
            kind = CUSTOM
        elif index > 0 and is_id_in_collection(segments[index - 1], segment):
            kind = ID  # `/v1/customers/cus_…` with an all-lowercase random part
        if kind is not None:
            new = visit(kind, segment, PATH)
            if new is not None and new != segment:
                segments[index] = _quoted(new)
                changed = True
    return "/".join(segments) if changed else path


# What `quote` leaves as it is: an id, a number (most replacements) need no call.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(text: str) -> str:
    """A replacement percent-encoded for a path segment or a form value."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def _unquoted(text: str) -> str:
    """A form key or value decoded (`unquote_plus`); most hold nothing to decode, and are
    let go as they are without the call."""
    return unquote_plus(text) if "%" in text or "+" in text else text


def _walk_form(
    encoded: str,
    visit: Visitor,
    where: str,
    *,
    skip_top_id: bool,
    times: frozenset[str] | None = None,
) -> str:
    """Visit every value of an x-www-form-urlencoded string; keys stay byte for byte.
    Absolute times (by the field names in `times`) are visited too when `times` is given."""
    if not encoded:
        return encoded
    parts = encoded.split("&")
    changed = False
    for index, part in enumerate(parts):
        raw_key, equals, raw_value = part.partition("=")
        if not equals or not raw_value:
            continue
        value = _unquoted(raw_value)
        key = _unquoted(raw_key)
        if skip_top_id and key == "id":
            # `id=gold` on a create names the object to be made: the user's own id.
            continue
        path = form_key_path(key) if "[" in key else [key]
        name = _field_name(path) if "[" in key else key
        kind = _classify(name, value)
        if kind is None and times is not None and shiftable_time(value) is not None:
            kind = TIME if time_parameter(path, times) else None
        if kind is None:
            continue
        new = visit(kind, value, f"{where}:{key}" if kind == TIME else where)
        if new is not None and new != value:
            parts[index] = f"{raw_key}={_quoted(new)}"
            changed = True
    return "&".join(parts) if changed else encoded


def _walk_json(
    node: Any,
    visit: Visitor,
    path: tuple[str, ...],
    times: frozenset[str] | None = None,
) -> tuple[Any, bool]:
    if isinstance(node, dict):
        changed = False
        for key, value in node.items():
            if not path and key == "id":
                continue
            new, did = _walk_json(value, visit, (*path, key), times)
            if did:
                node[key] = new
                changed = True
        return node, changed
    if isinstance(node, list):
        changed = False
        for index, value in enumerate(node):
            new, did = _walk_json(value, visit, path, times)
            if did:
                node[index] = new
                changed = True
        return node, changed
    name = path[-1] if path else None
    if isinstance(node, str):
        kind = _classify(name, node)
        if kind is not None:
            new = visit(kind, node, BODY)
            if new is not None and new != node:
                return new, True
    elif (
        times is not None
        and type(node) is int
        and shiftable_time(str(node)) is not None
        and time_parameter(path, times)
    ):
        new = visit(TIME, str(node), f"{BODY}:{'.'.join(path)}")
        if new is not None and new != str(node):
            return int(new), True
    return node, False


def walk_request(
    request: Request, visit: Visitor, *, times: frozenset[str] | None = None
) -> Request:
    """Call `visit` on every id-like value of a request (and on every absolute time, by
    the parameter names in `times`, when given); returns the request with the
    replacements it gave (the same object when nothing changed)."""
    path = _walk_path(request.path, visit)
    query = _walk_form(request.query, visit, QUERY, skip_top_id=False, times=times)
    body = request.body
    if isinstance(body, str) and body:
        if request.has_json_body:
            try:
                tree = load_json(body)
            except JSONProblem:
                tree = None  # sent as recorded: nothing in it is walked
            if tree is not None:
                tree, changed = _walk_json(tree, visit, (), times)
                if changed:
                    body = json.dumps(tree, separators=(",", ":"), ensure_ascii=False)
        else:
            body = _walk_form(
                body, visit, BODY, skip_top_id=request.method.upper() == "POST", times=times
            )
    headers = request.headers
    for index, (name, value) in enumerate(headers):
        if len(name) in _ID_HEADER_LENGTHS and name.lower() in ID_HEADERS and is_stripe_id(value):
            new = visit(ID, value, HEADER)
            if new is not None and new != value:
                if headers is request.headers:
                    headers = Headers(headers)
                headers[index] = (name, new)
    if (path, query, body, headers) == (request.path, request.query, request.body, request.headers):
        return request
    return Request(
        method=request.method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        scheme=request.scheme,
        host=request.host,
        port=request.port,
    )


def secret_owner(secret: str) -> str:
    """The object id inside a client secret: `pi_X_secret_Y` → `pi_X`."""
    return secret.partition("_secret_")[0]


def request_references(
    request: Request, *, times: frozenset[str] | None = None
) -> Iterator[tuple[str, str, str]]:
    """(kind, value, where) for every id, cursor, client secret and possibly user-chosen
    id a request refers to; and for every absolute time it holds (TIME), by the parameter
    names in `times`, when given."""
    found: list[tuple[str, str, str]] = []

    def collect(kind: str, value: str, where: str) -> None:
        if kind in (ID, CURSOR, CUSTOM, SECRET, TIME):
            found.append((kind, value, where))

    walk_request(request, collect, times=times)
    return iter(found)


# --- turning a recorded request into the one a target is sent ----------------------------


def _written_as(number: str, written: str | None) -> str:
    """`number` laid into how the recorded card was written (`n` a digit, `_` a blank),
    when that has as many digits; else as it is."""
    if written is None or written.count("n") != len(number):
        return number
    digits = iter(number)
    return "".join(next(digits) if char == "n" else char for char in written.replace("_", " "))


class IdLookup(Protocol):
    def get(self, recorded: str) -> str | None: ...

    def secret(self, recorded: str) -> str | None: ...

    def time(self, recorded: int) -> int | None: ...


# Recorded headers a target is never sent: the recorded key (each target sends its own),
# what the HTTP client sets itself, the hop-by-hop headers the recording client's own
# connection owned (RFC 9110 7.6.1), and telemetry naming the recorded session's requests.
# `Expect: 100-continue` (curl sends it with a large body) would have the HTTP client hold
# the body until the target says 100 Continue, which a target need not ever say.
_DROPPED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "accept-encoding",
        "cookie",
        "idempotency-key",
        "x-stripe-client-telemetry",
    }
)

# Connection header values that name no other header.
_CONNECTION_OPTIONS = frozenset({"keep-alive", "close", ""})


@dataclass(slots=True, frozen=True)
class TargetContext:
    """What a request needs to be sent to one target. `api_key` lives only in memory."""

    name: str
    run_id: str
    api_key: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    live: bool = False
    scheme: str = "http"
    host: str = "127.0.0.1"
    port: int | None = None
    # Seconds an absolute time in a request moves by (the replay's start less the
    # recording's; None: times are sent as recorded), and the parameters that hold one
    # (harness.stripe.times).
    time_shift: int | None = None
    time_fields: frozenset[str] = REQUEST_TIME_FIELDS
    # Connected accounts the id map does not know are the target's own (`accounts: same`);
    # False when the scenario maps them (the mapping seeds the id map). Ids with one of
    # `pass_through`'s prefixes exist on the target as recorded.
    same_accounts: bool = True
    pass_through: tuple[str, ...] = ()

    def standing_id(self, recorded: str) -> str | None:
        """An id the id map does not know that the target has as it was recorded: one of
        the platform's connected accounts, or an id with a pass-through prefix; else None."""
        if self.same_accounts and is_account_id(recorded):
            return recorded
        if self.pass_through and recorded.startswith(self.pass_through):
            return recorded
        return None


@dataclass(slots=True)
class Rewritten:
    """A request ready for one target, and what could not be made right for it: ids with
    no counterpart, and redaction markers with no value to send in their place (where
    each is, and the marker), which must never be sent."""

    request: Request
    unresolved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    # (where, recorded time, time sent, how) for every absolute time moved: `answer` when
    # the recording showed the time in an answer and the target's answer gave its own,
    # `shift` otherwise.
    shifted: list[tuple[str, int, int, str]] = field(default_factory=list)


def idempotency_key(run_id: str, target: str, recorded: str) -> str:
    """A key unique to the run and target; one recorded key always gives the same one, so
    a client's own retries stay grouped and a resumed run replays, not duplicates."""
    digest = hashlib.sha256(f"{run_id}\0{target}\0{recorded}".encode()).hexdigest()
    return f"shadow-{digest[:40]}"


def rewrite_request(
    recorded: Request,
    seq: int,
    ids: IdLookup,
    target: TargetContext,
    credential: Credential = Credential.TARGET_KEY,
) -> Rewritten:
    """The request to send to `target` for a recorded one: every recorded id replaced by the
    target's (unknown ones listed as unresolved), every absolute time made the target's
    (the one its answer gave where the recording's answer showed it, else moved by the
    time shift), test cards for redacted cards, the target's headers, a namespaced
    Idempotency-Key, and the `credential` the recording implies
    (harness.replay.credentials.recorded_credential): the target's key, none, or a key
    every target refuses."""
    unresolved: list[str] = []
    notes: list[str] = []
    shifted: list[tuple[str, int, int, str]] = []

    def replace(kind: str, value: str, where: str) -> str | None:
        if kind == TIME:
            assert target.time_shift is not None
            recorded_time = int(value)
            learnt = ids.time(recorded_time)
            if learnt is not None:
                shifted.append((where, recorded_time, learnt, "answer"))
                return str(learnt)
            moved = recorded_time + target.time_shift
            shifted.append((where, recorded_time, moved, "shift"))
            return str(moved)
        if kind in (ID, CURSOR):
            mapped = ids.get(value)
            if mapped is None:
                mapped = target.standing_id(value)
            if mapped is None and value not in unresolved:
                unresolved.append(value)
            return mapped
        if kind == CUSTOM:
            # A user-chosen id stays as it is unless the id map knows better (a seed
            # mapping a plan to a price, say).
            return ids.get(value)
        if kind == SECRET:
            mapped = ids.secret(value)
            owner = secret_owner(value)
            if mapped is None and target.standing_id(owner) is not None:
                # Sent as recorded; a secret the recording redacted stays a marker, and
                # the request is skipped for it (markers_left), never sent with it.
                mapped = value
            if mapped is None and owner not in unresolved:
                unresolved.append(owner)
            return mapped
        if target.live:
            return None
        if kind == CARD:
            card = _CARD_MARKER.match(value)
            if card is None:  # a mistyped card: one the target refuses as Stripe did
                notes.append(
                    f"a mistyped card number (it fails the Luhn check); sent {INVALID_TEST_CARD}"
                )
                return INVALID_TEST_CARD
            last4, written = card.groups()
            number = TEST_CARDS.get(last4)
            if number is None:
                notes.append(f"card ending {last4} has no test card; sent {DEFAULT_TEST_CARD}")
                number = DEFAULT_TEST_CARD
            return _written_as(number, written)
        if kind == CVC:
            return TEST_CVC
        if kind == IBAN:
            marker = _BANK_MARKER.match(value)
            assert marker is not None
            iban, note = iban_for_replay(marker.group(1), marker.group(2))
            if note:
                notes.append(note)
            return iban
        if kind == ACCOUNT:
            number, note = account_number_for_replay(value[len(_ACCOUNT_MARKER) : -1])
            if note:
                notes.append(note)
            return number
        if kind == ROUTING and (with_account or value == _ROUTING_MARKER):
            # Stripe's test account numbers go with its test routing number.
            return TEST_ROUTING_NUMBER
        if kind == IDENTITY:
            identity = _IDENTITY_MARKER.match(value)
            assert identity is not None
            return TEST_IDENTITY_NUMBERS[identity.group(1)]
        if kind == BRANCH:
            branch = _BRANCH_MARKER.match(value)
            assert branch is not None
            return TEST_BRANCH_NUMBERS[branch.group(1)]
        return None

    with_account = any(
        "bank_account" in text and _ACCOUNT_MARKER in unquote_plus(text)
        for text in (recorded.query, recorded.body if isinstance(recorded.body, str) else "")
    )
    times = target.time_fields if target.time_shift is not None else None
    request = walk_request(recorded, replace, times=times)
    dropped = _DROPPED_HEADERS
    if target.headers:  # the target's own headers replace the recorded ones
        dropped = dropped | {name.lower() for name, _ in target.headers}
    headers = Headers()
    keep = headers.append
    key: str | None = None
    named: set[str] = set()
    for name, value in request.headers:
        lower = name.lower()
        if lower not in dropped:
            keep((name, value))
        elif lower == "idempotency-key":
            if key is None:
                key = value
        elif lower == "connection" and value.strip().lower() not in _CONNECTION_OPTIONS:
            # Headers the recording client's Connection header names are its
            # connection's own too (RFC 9110 7.6.1).
            named.update(token.strip().lower() for token in value.split(","))
    if named:
        headers = Headers([(name, value) for name, value in headers if name.lower() not in named])
    headers.extend(target.headers)
    if credential is Credential.INVALID_KEY:
        headers.append(("Authorization", f"Bearer {INVALID_API_KEY}"))
    elif credential is Credential.TARGET_KEY and target.api_key:
        headers.append(("Authorization", f"Bearer {target.api_key}"))
    if key is None and recorded.method.upper() == "POST":
        # Not in the recording, but the replay retries: a key makes the retry safe.
        key = f"seq-{seq}"
    if key is not None:
        headers.append(("Idempotency-Key", idempotency_key(target.run_id, target.name, key)))
    sent = Request(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=headers,
        body=request.body,
        scheme=target.scheme,
        host=target.host,
        port=target.port,
    )
    return Rewritten(sent, unresolved, notes, markers_left(sent), shifted)


def markers_left(request: Request) -> list[str]:
    """The redaction markers a request still holds ("body: <redacted:…>"): a secret
    the replay has no value for (a card on a live target, a key in a body). Markers say
    nothing secret; sent, they would be a request the client never made."""
    found: list[str] = []
    places = [("path", request.path), ("query", request.query)]
    if isinstance(request.body, str):
        places.append(("body", request.body))
    places.extend((f"header {name}", value) for name, value in request.headers)
    for where, text in places:
        if "redacted" not in text:
            continue
        for plain in {text, unquote_plus(text)}:
            for marker in _MARKER.findall(plain):
                entry = f"{where}: {marker}"
                if entry not in found:
                    found.append(entry)
    return found
