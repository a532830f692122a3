"""What the map reads from one exchange: its endpoint, answer, error code, version, account,
key mode, idempotency key, parameters, expansions, pagination, client, the object it
created, read, updated or deleted, and the key of the flow it belongs to. Pure: an
exchange in, an Observation out.

Every string taken from the exchange passes the recorder's redaction again
(harness/record/redact.py) before the map keeps it: a recording made without it, or an
answer that echoes a secret back, leaves no secret in a map.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from harness.capture.redact import redact_text
from harness.map.evidence import Example, request_line
from harness.model import Exchange
from harness.stripe import (
    CLIENT_SECRET_PATTERN,
    ID_PREFIXES,
    api_key_mode,
    endpoint_template,
    form_tree,
    id_prefix,
    is_id_of_field,
    is_stripe_id,
    parameter_paths,
    parse_form_pairs,
    request_form_tree,
    resource_of,
)
from harness.stripe.guidelines import SECRET_QUERY_PARAMETERS
from harness.stripe.times import is_calendar_time

# Answers longer than this are not parsed (what the map reads sits at their top level).
MAX_ANSWER = 2_000_000
# Characters of a client's description kept.
MAX_CLIENT = 80
# Request parameters that name the object an exchange is about, most telling first.
FLOW_REFERENCES = (
    "payment_intent",
    "setup_intent",
    "subscription",
    "invoice",
    "charge",
    "product",
    "price",
    "payment_method",
)
_LIST_OBJECTS = frozenset({"list", "search_result"})
_CURSORS = ("starting_after", "ending_before", "page")


@dataclass(slots=True)
class Observation:
    """One exchange as the map reads it."""

    at: int
    seq: int
    moment: float | None  # None: the exchange has no time the calendar can place
    duration: float
    method: str
    endpoint: str
    resource: str
    status: int | None  # None: no answer came
    error_code: str | None = None  # `card_error/card_declined/insufficient_funds`
    decline: str | None = None  # the error's decline_code, else its code
    should_retry: str | None = None
    version: str | None = None  # Stripe-Version the request sent
    answer_version: str | None = None
    account: str | None = None  # Stripe-Account
    mode: str = "unknown"
    idempotency_key: str | None = None
    replayed: bool = False
    parameters: list[str] = field(default_factory=list)
    expand: list[str] = field(default_factory=list)
    list_read: bool = False
    limit: str | None = None
    cursor: bool = False
    has_more: bool = False
    secret_in_query: bool = False
    client: str | None = None
    flow_key: str | None = None
    object_type: str | None = None
    action: str | None = None  # created, read, updated, deleted
    updated_intent: str | None = None  # the PaymentIntent a POST updates
    fingerprint: str = ""
    example: Example = field(default_factory=lambda: Example(0, 0, None, "", None))

    @property
    def succeeded(self) -> bool:
        return self.status is not None and self.status < 400

    @property
    def is_search(self) -> bool:
        return self.method == "GET" and self.endpoint.endswith("/search")

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "DELETE") and self.succeeded


_LETTERS = "abcdefghijklmnop"


def short_hash(*parts: str) -> str:
    """A stable digest of 16 letters (a to p): a key that holds nothing of what it keys,
    and no digit a redaction rule could take for a card number."""
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        digest.update(part.encode("utf-8", "replace"))
        digest.update(b"\x00")
    return "".join(_LETTERS[byte >> 4] + _LETTERS[byte & 15] for byte in digest.digest())


@lru_cache(maxsize=8192)
def _clean_name(value: str) -> str:
    """redact_text of a string that comes back again and again (an endpoint, a parameter,
    a version, a client): each is redacted once."""
    return redact_text(value)


def _clean(value: str | None) -> str | None:
    return _clean_name(value) if value else value


def _answer(exchange: Exchange) -> Any:
    response = exchange.response
    if response is None or not response.body or len(response.body) > MAX_ANSWER:
        return None
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _error_code(answer: Any) -> tuple[str | None, str | None]:
    """(`type/code/decline_code`, the decline code or code) of an error answer."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return None, None
    parts = [_text(error.get(k)) for k in ("type", "code", "decline_code")]
    named = "/".join(p or "-" for p in parts).rstrip("/-") or None
    return named, parts[2] or parts[1]


@lru_cache(maxsize=1024)
def describe_client(user_agent: str | None, client_user_agent: str | None) -> str | None:
    """`python 3.11.7, stripe-python 16.1.0 (requests)` from the SDK's
    X-Stripe-Client-User-Agent, else the User-Agent as it is."""
    if client_user_agent:
        try:
            data = json.loads(client_user_agent)
        except ValueError:
            data = None
        if isinstance(data, dict):
            lang = _text(data.get("lang")) or "unknown"
            text = f"{lang} {data.get('lang_version', '')}".strip()
            bindings = _text(data.get("bindings_version"))
            if bindings:
                text += f", stripe-{lang} {bindings}"
            httplib = _text(data.get("httplib"))
            if httplib:
                text += f" ({httplib})"
            application = data.get("application")
            if isinstance(application, dict) and _text(application.get("name")):
                text += f", for {application['name']}"
            return text[:MAX_CLIENT]
    if user_agent:
        return user_agent.strip()[:MAX_CLIENT] or None
    return None


def _object_type(answer: Any, resource: str) -> str:
    if isinstance(answer, dict):
        kind = answer.get("object")
        if isinstance(kind, str) and kind not in _LIST_OBJECTS:
            return kind
        data = answer.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            inner = data[0].get("object")
            if isinstance(inner, str):
                return inner
    singular = resource.rsplit("/", 1)[-1]
    return singular[:-1] if singular.endswith("s") else singular


def _action(method: str, path: str, answer: Any) -> str | None:
    """What a successful exchange did to the object it answered with."""
    if method == "DELETE":
        return "deleted"
    if method == "GET":
        return "read"
    if method != "POST":
        return None
    made = answer.get("id") if isinstance(answer, dict) else None
    if isinstance(made, str) and made and made not in path.split("/"):
        return "created"
    return "updated"


def _customer_of(path: str, tree: dict[str, Any], answer: Any) -> str | None:
    """The customer an exchange concerns (its id whatever the case of its random part:
    harness.stripe.is_id_of_field)."""
    for segment in path.split("/"):
        if is_id_of_field("customer", segment):
            return segment
    named = tree.get("customer")
    if isinstance(named, str) and (is_stripe_id(named) or is_id_of_field("customer", named)):
        return named
    if isinstance(answer, dict) and answer.get("object") not in _LIST_OBJECTS:
        if answer.get("object") == "customer" and isinstance(answer.get("id"), str):
            return str(answer["id"])
        owner = answer.get("customer")
        if isinstance(owner, dict):
            owner = owner.get("id")
        if isinstance(owner, str) and (is_stripe_id(owner) or is_id_of_field("customer", owner)):
            return owner
    return None


def flow_key(method: str, path: str, tree: dict[str, Any], answer: Any) -> str | None:
    """The key of the flow an exchange belongs to: the customer it concerns (in its path,
    its parameters or its answer), else the first object its path names, else one its
    parameters refer to, else the object a POST created; None for a read of everything
    (a list with no filter), which is part of no one's flow."""
    customer = _customer_of(path, tree, answer)
    if customer is not None:
        return customer
    for segment in path.split("/"):
        if is_stripe_id(segment):
            return segment
    for name in FLOW_REFERENCES:
        named = tree.get(name)
        if isinstance(named, str) and named:
            return named
    if method == "POST" and isinstance(answer, dict):
        made = answer.get("id")
        if isinstance(made, str) and made and answer.get("object") not in _LIST_OBJECTS:
            return made
    return None


def _expansions(tree: dict[str, Any]) -> list[str]:
    expand = tree.get("expand")
    if isinstance(expand, str):
        return [expand]
    if isinstance(expand, list):
        return [item for item in expand if isinstance(item, str) and item]
    return []


def _secret_in_query(query: str) -> bool:
    if not query:
        return False
    if "<redacted" in query or "%3Credacted" in query or CLIENT_SECRET_PATTERN.search(query):
        return True
    names = {key.split("[")[0].lower() for key, _ in parse_form_pairs(query)}
    nested = {key.rsplit("[", 1)[-1].rstrip("]").lower() for key, _ in parse_form_pairs(query)}
    return bool((names | nested) & SECRET_QUERY_PARAMETERS)


def _updated_intent(method: str, path: str) -> str | None:
    if method != "POST":
        return None
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 3 and segments[:2] == ["v1", "payment_intents"]:
        intent = segments[2]
        if is_stripe_id(intent) and ID_PREFIXES.get(id_prefix(intent)) == "payment_intent":
            return intent
    return None


def observe(exchange: Exchange, at: int) -> Observation:
    """Read one exchange; `at` is its place among every exchange the map has read."""
    request = exchange.request
    response = exchange.response
    # Each header looked up once: the first value of each name, as Request.header finds it.
    headers: dict[str, str] = {}
    for name, value in request.headers:
        headers.setdefault(name.lower(), value)
    method = request.method.upper()
    path = request.path
    status = response.status if response is not None else None
    answer = _answer(exchange)
    tree = request_form_tree(method, request.query, request.body)
    query_tree = tree if method in ("GET", "DELETE") else form_tree(parse_form_pairs(request.query))
    moment = exchange.started if is_calendar_time(exchange.started) else None
    account = _clean((headers.get("stripe-account") or "").strip() or None)
    answer_version = response.header("Stripe-Version") if response is not None else None
    line = redact_text(request_line(method, path, request.query))
    key = flow_key(method, path, tree, answer)
    observation = Observation(
        at=at,
        seq=exchange.seq,
        moment=moment,
        duration=exchange.duration,
        method=method,
        endpoint=_clean_name(endpoint_template(method, path)),
        resource=_clean_name(resource_of(path)),
        status=status,
        version=_clean((headers.get("stripe-version") or "").strip() or None),
        answer_version=_clean((answer_version or "").strip() or None),
        account=account,
        mode=api_key_mode(headers.get("authorization")),
        idempotency_key=headers.get("idempotency-key"),
        replayed=response is not None
        and (response.header("Idempotent-Replayed") or "").lower() == "true",
        parameters=[redact_text(".".join(p)) for p in parameter_paths(tree) if p[0] != "expand"],
        expand=[redact_text(e) for e in _expansions(tree)],
        secret_in_query=_secret_in_query(request.query),
        client=_clean(
            describe_client(headers.get("user-agent"), headers.get("x-stripe-client-user-agent"))
        ),
        flow_key=None if key is None else redact_text(f"{account}/{key}" if account else key),
        updated_intent=_updated_intent(method, path),
        fingerprint=short_hash(account or "", method, path, request.query, request.text),
        example=Example(at, exchange.seq, moment, line, status),
    )
    if status is not None and status >= 400:
        code, observation.decline = _error_code(answer)
        observation.error_code = _clean(code)
        observation.should_retry = response.header("Stripe-Should-Retry") if response else None
    elif status is not None:
        observation.object_type = _clean(_object_type(answer, observation.resource))
        observation.action = _action(method, path, answer)
    if isinstance(answer, dict) and answer.get("object") in _LIST_OBJECTS and method == "GET":
        observation.list_read = True
        observation.has_more = answer.get("has_more") is True
        limit = query_tree.get("limit")
        observation.limit = _clean(limit) if isinstance(limit, str) else None
        observation.cursor = any(name in query_tree for name in _CURSORS)
    return observation
