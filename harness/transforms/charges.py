"""Charges → PaymentIntents: a recorded charge sent as a confirmed PaymentIntent, its
capture as the PaymentIntent's, and what the answers teach the id map (docs/blueprints.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import unquote_plus

from pydantic import Field

from harness.formats.untrusted import response_json
from harness.model import Request, Response
from harness.stripe import (
    encode_form_pairs,
    form_key_path,
    is_test_token,
)
from harness.transforms.base import TransformContext, builtin
from harness.transforms.builtin import _Params


class ChargesToPaymentIntentsParams(_Params):
    payment_method_types: list[str] = Field(default_factory=lambda: ["card"], min_length=1)


CHARGES_TO_PAYMENT_INTENTS = "charges_to_payment_intents"
_CAPTURE_PATH = re.compile(r"^/v1/charges/([^/]+)/capture/?$")
# Charge expansions that name something a PaymentIntent has too; any other is on its
# latest charge.
_INTENT_EXPANSIONS = frozenset({"customer", "invoice", "on_behalf_of", "review", "application"})


def _expansion(value: str) -> str | None:
    head = value.split(".", 1)[0]
    if head == "payment_intent":
        return None  # the answer is the PaymentIntent itself
    return value if head in _INTENT_EXPANSIONS else f"latest_charge.{value}"


def _pairs(encoded: str) -> Iterator[tuple[str, str, str, str]]:
    """(raw part, key, value, first path segment) for every pair of a form string."""
    for part in encoded.split("&") if encoded else []:
        raw_key, _, raw_value = part.partition("=")
        key = unquote_plus(raw_key)
        yield part, key, unquote_plus(raw_value), form_key_path(key)[0]


def _intent_body(encoded: str, *, capture: bool, types: list[str]) -> str:
    """A Charge's parameters as a PaymentIntent's (create, or capture)."""
    kept: list[str] = []
    added: list[tuple[str, str]] = []
    expand: list[str] = []
    for part, _key, value, head in _pairs(encoded):
        if head == "expand":
            mapped = _expansion(value)
            if mapped is not None:
                expand.append(mapped)
        elif head == "statement_descriptor":
            # Stripe refuses statement_descriptor on a card PaymentIntent; the suffix is
            # the part a card statement shows after the account's prefix.
            added.append(("statement_descriptor_suffix", value))
        elif capture and head == "amount":
            added.append(("amount_to_capture", value))
        elif not capture and head == "source":
            if is_test_token(value) or value.startswith("tok_"):
                added += [("payment_method_data[type]", "card")]
                added += [("payment_method_data[card][token]", value)]
            else:
                added.append(("payment_method", value))  # pm_, card_ and src_ ids all do
        elif not capture and head == "capture":
            if value == "false":
                added.append(("capture_method", "manual"))
        else:
            kept.append(part)
    if not capture:
        added.append(("confirm", "true"))
        added += [(f"payment_method_types[{i}]", kind) for i, kind in enumerate(types)]
    if "latest_charge" not in expand:
        expand.append("latest_charge")  # the answer carries the charge it made
    added += [(f"expand[{i}]", value) for i, value in enumerate(expand)]
    return "&".join([*kept, encode_form_pairs(added)])


def _learn_payment_intent(answer: Response, context: TransformContext) -> None:
    """A PaymentIntent answering for a Charge: its latest charge is the recorded charge
    (so later reads and refunds of the charge follow it), and its id is what a capture
    of that charge is sent to."""
    recorded = context.recorded
    if recorded.request.method.upper() != "POST":
        return
    path = recorded.request.path.rstrip("/")
    if path != "/v1/charges" and _CAPTURE_PATH.match(recorded.request.path) is None:
        return
    intent = response_json(answer)
    if not isinstance(intent, dict) or intent.get("object") != "payment_intent":
        return
    latest = intent.get("latest_charge")
    latest_id = latest.get("id") if isinstance(latest, dict) else latest
    if not isinstance(latest_id, str) or not isinstance(intent.get("id"), str):
        return
    context.state.setdefault(CHARGES_TO_PAYMENT_INTENTS, {})[latest_id] = intent["id"]
    charge = response_json(recorded.response)
    if isinstance(charge, dict) and charge.get("object") == "charge":
        if isinstance(latest, dict):
            context.ids.learn(charge, latest)
        elif isinstance(charge.get("id"), str):
            context.ids.pair(charge["id"], latest_id)


@builtin(CHARGES_TO_PAYMENT_INTENTS, ChargesToPaymentIntentsParams, learn=_learn_payment_intent)
def charges_to_payment_intents(request: Request, context: TransformContext) -> Request:
    """Send a recorded `POST /v1/charges` as a confirmed `POST /v1/payment_intents`, and a
    charge's capture as its PaymentIntent's."""
    if request.method.upper() != "POST" or request.has_json_body:
        return request
    params: ChargesToPaymentIntentsParams = context.params
    path = request.path.rstrip("/")
    if path == "/v1/charges":
        body = _intent_body(request.text, capture=False, types=params.payment_method_types)
        return replace(request, path="/v1/payment_intents", body=body)
    match = _CAPTURE_PATH.match(request.path)
    if match is not None:
        intent = context.state.get(CHARGES_TO_PAYMENT_INTENTS, {}).get(match.group(1))
        if intent is None:
            return request  # a charge the transform did not make: capture it as it is
        body = _intent_body(request.text, capture=True, types=params.payment_method_types)
        return replace(request, path=f"/v1/payment_intents/{intent}/capture", body=body)
    return request
