"""Stripe-shaped answers for the fast target and the recording generator (pure).

`answer` maps one request to the status and JSON object Stripe would send back for it:
creates mint fresh ids, reads and updates echo the id in the path, references echo the
ids in the request, and everything else is canned. Nothing is remembered between
requests, so a target serving these answers costs next to nothing and never grows; the
recording generator calls the same function, so a recording and a replay of it agree
field for field once ids and times are normalised.

A target with a `variant` answers like a new API version would. `all`: every object
gains a field, customers lose one and change another, and payment intents name their
charge differently, so compare has a difference to find in every exchange. `customers`:
only customers change, so most exchanges still match, as in a typical migration.
"""

from __future__ import annotations

import itertools
import secrets
import string
from collections.abc import Iterator
from typing import Any

from harness.stripe import parse_form_pairs

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

Answer = tuple[int, dict[str, Any]]


class IdMint:
    """Fresh Stripe-looking ids: `cus_` + a tag of this mint + a counter, all base62.

    Two mints never give the same id (random tags), and every id holds a capital or a
    digit after its prefix, as Stripe's do.
    """

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or "".join(secrets.choice(_BASE62) for _ in range(5))
        self._counter = itertools.count(1)

    def __call__(self, prefix: str) -> str:
        number = next(self._counter)
        digits = []
        while True:
            number, rest = divmod(number, 62)
            digits.append(_BASE62[rest])
            if not number:
                break
        return f"{prefix}_{self.tag}{''.join(reversed(digits)).rjust(9, '0')}"


def form(body: str) -> dict[str, str]:
    """A form body (or query string) as key → last value, keys as sent (`metadata[k]`)."""
    return dict(parse_form_pairs(body)) if body else {}


def _metadata(params: dict[str, str]) -> dict[str, str]:
    return {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[") and k[-1] == "]"}


def _int(params: dict[str, str], name: str, default: int) -> int:
    try:
        return int(params.get(name, default))
    except ValueError:
        return default


def customer(cid: str, params: dict[str, str], now: int) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": now,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email", "jenny.rosen@example.com"),
        "invoice_prefix": "7D1A2B3C",
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": params.get("invoice_settings[default_payment_method]"),
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": _metadata(params),
        "name": params.get("name", "Jenny Rosen"),
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def payment_method(pid: str, params: dict[str, str], now: int) -> dict[str, Any]:
    number = params.get("card[number]", "4242424242424242")
    return {
        "id": pid,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": None,
            "name": None,
            "phone": None,
        },
        "card": {
            "brand": "visa",
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": "visa",
            "exp_month": _int(params, "card[exp_month]", 12),
            "exp_year": _int(params, "card[exp_year]", 2034),
            "fingerprint": "Xt5EWLLDS7FJjR1c",
            "funding": "credit",
            "generated_from": None,
            "last4": number.rstrip(">")[-4:],  # a recorded `<redacted:card:4242>` too
            "networks": {"available": ["visa"], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": now,
        "customer": params.get("customer"),
        "livemode": False,
        "metadata": _metadata(params),
        "type": params.get("type", "card"),
    }


def charge(
    chid: str, pi: str | None, customer_id: str | None, amount: int, now: int, mint: IdMint
) -> dict[str, Any]:
    return {
        "id": chid,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "balance_transaction": mint("txn"),
        "billing_details": {"email": None, "name": None, "phone": None},
        "captured": True,
        "created": now,
        "currency": "usd",
        "customer": customer_id,
        "description": None,
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": pi,
        "payment_method": None,
        "receipt_url": f"https://pay.stripe.com/receipts/{chid}",
        "refunded": False,
        "status": "succeeded",
    }


def payment_intent(
    pid: str, params: dict[str, str], now: int, mint: IdMint, variant: bool
) -> dict[str, Any]:
    amount = _int(params, "amount", 2000)
    confirmed = params.get("confirm") == "true"
    intent: dict[str, Any] = {
        "id": pid,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if confirmed else 0,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{pid}_secret_{mint.tag}Zx81qLm0",
        "confirmation_method": "automatic",
        "created": now,
        "currency": params.get("currency", "usd"),
        "customer": params.get("customer"),
        "description": params.get("description"),
        "last_payment_error": None,
        "latest_charge": mint("ch") if confirmed else None,
        "livemode": False,
        "metadata": _metadata(params),
        "next_action": None,
        "payment_method": params.get("payment_method"),
        "payment_method_types": ["card"],
        "receipt_email": None,
        "setup_future_usage": None,
        "status": "succeeded" if confirmed else "requires_confirmation",
    }
    if variant:
        intent["charge"] = intent.pop("latest_charge")
    return intent


def declined(pid: str, params: dict[str, str], now: int, mint: IdMint, variant: bool) -> Answer:
    """A card decline: 402 with the failed payment intent inside the error."""
    intent = payment_intent(pid, params, now, mint, variant)
    intent["status"] = "requires_payment_method"
    intent["amount_received"] = 0
    return 402, {
        "error": {
            "charge": intent.get("latest_charge"),
            "code": "card_declined",
            "decline_code": "generic_decline",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "message": "Your card was declined.",
            "param": "",
            "payment_intent": intent,
            "request_log_url": f"https://dashboard.stripe.com/test/logs/{mint('req')}",
            "type": "card_error",
        }
    }


def refund(rid: str, params: dict[str, str], now: int, mint: IdMint) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "refund",
        "amount": _int(params, "amount", 2000),
        "balance_transaction": mint("txn"),
        "charge": mint("ch"),
        "created": now,
        "currency": "usd",
        "destination_details": {"card": {"reference_status": "pending", "type": "refund"}},
        "metadata": _metadata(params),
        "payment_intent": params.get("payment_intent"),
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def price(pid: str, params: dict[str, str], now: int) -> dict[str, Any]:
    return {
        "id": pid,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": now,
        "currency": params.get("currency", "usd"),
        "livemode": False,
        "lookup_key": None,
        "metadata": _metadata(params),
        "nickname": None,
        "product": params.get("product"),
        "recurring": {
            "aggregate_usage": None,
            "interval": params.get("recurring[interval]", "month"),
            "interval_count": 1,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "type": "recurring",
        "unit_amount": _int(params, "unit_amount", 1500),
    }


def product(pid: str, params: dict[str, str], now: int) -> dict[str, Any]:
    return {
        "id": pid,
        "object": "product",
        "active": True,
        "created": now,
        "description": None,
        "images": [],
        "livemode": False,
        "metadata": _metadata(params),
        "name": params.get("name", "Gold plan"),
        "tax_code": None,
        "type": "service",
        "updated": now,
        "url": None,
    }


def subscription(sid: str, params: dict[str, str], now: int, mint: IdMint) -> dict[str, Any]:
    price_id = params.get("items[0][price]")
    return {
        "id": sid,
        "object": "subscription",
        "billing_cycle_anchor": now,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "collection_method": "charge_automatically",
        "created": now,
        "currency": "usd",
        "customer": params.get("customer"),
        "default_payment_method": params.get("default_payment_method"),
        "items": {
            "object": "list",
            "data": [
                {
                    "id": params.get("items[0][id]") or mint("si"),
                    "object": "subscription_item",
                    "created": now,
                    "current_period_end": now + 2_592_000,
                    "current_period_start": now,
                    "metadata": {},
                    "price": price(price_id, {}, now) if price_id else None,
                    "quantity": _int(params, "items[0][quantity]", 1),
                    "subscription": sid,
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={sid}",
        },
        "latest_invoice": mint("in"),
        "livemode": False,
        "metadata": _metadata(params),
        "start_date": now,
        "status": "active",
        "trial_end": None,
    }


def invoice(
    iid: str, customer_id: str | None, subscription_id: str | None, now: int
) -> dict[str, Any]:
    return {
        "id": iid,
        "object": "invoice",
        "amount_due": 1500,
        "amount_paid": 1500,
        "amount_remaining": 0,
        "attempt_count": 1,
        "billing_reason": "subscription_create",
        "collection_method": "charge_automatically",
        "created": now,
        "currency": "usd",
        "customer": customer_id,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{iid}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/{iid}/pdf",
        "livemode": False,
        "metadata": {},
        "number": "7D1A2B3C-0001",
        "parent": {
            "subscription_details": {"metadata": {}, "subscription": subscription_id},
            "type": "subscription_details",
        },
        "period_end": now,
        "period_start": now,
        "status": "paid",
        "subtotal": 1500,
        "total": 1500,
    }


def _list(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def _not_found(kind: str, oid: str) -> Answer:
    return 404, {
        "error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": f"No such {kind}: '{oid}'",
            "param": "id",
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_000000000000",
            "type": "invalid_request_error",
        }
    }


VARIANTS = ("", "customers", "all")


def _with_variant(status: int, body: dict[str, Any], variant: str) -> Answer:
    """A new API version's answer (see the module docstring)."""
    for node in _objects(body):
        if variant == "all":
            node["shadow_revision"] = 2
        if node.get("object") == "customer":
            node.pop("invoice_prefix", None)
            node["tax_exempt"] = "exempt"
    return status, body


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("object"), str) and node["object"] != "list":
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def answer(
    method: str, path: str, query: str, body: str, now: int, mint: IdMint, variant: str = ""
) -> Answer:
    """The status and JSON object a Stripe-like server answers this request with."""
    status, data = _answer(
        method.upper(), path, form(query), form(body), now, mint, variant == "all"
    )
    return _with_variant(status, data, variant) if variant else (status, data)


def _answer(
    method: str,
    path: str,
    query: dict[str, str],
    params: dict[str, str],
    now: int,
    mint: IdMint,
    variant: bool,
) -> Answer:
    parts = path.strip("/").split("/")[1:]  # drop "v1"
    collection = parts[0] if parts else ""
    oid = parts[1] if len(parts) > 1 else None
    action = parts[2] if len(parts) > 2 else None
    if collection == "customers":
        if oid is None:
            if method == "GET":
                return 200, _list("/v1/customers", [customer(mint("cus"), {}, now)])
            return 200, customer(mint("cus"), params, now)
        if method == "DELETE":
            return 200, {"id": oid, "object": "customer", "deleted": True}
        return 200, customer(oid, params, now)
    if collection == "payment_methods":
        if oid is None:
            return 200, payment_method(mint("pm"), params, now)
        attached = dict(params)
        if action == "detach":
            attached.pop("customer", None)
        return 200, payment_method(oid, attached, now)
    if collection == "payment_intents":
        if oid is None and method == "GET":
            customer_id = query.get("customer")
            data = [payment_intent(mint("pi"), {"customer": customer_id or ""}, now, mint, variant)]
            return 200, _list("/v1/payment_intents", data)
        pid = oid or mint("pi")
        settled = dict(params, confirm="true") if action in ("confirm", "capture") else params
        if settled.get("confirm") == "true" and _int(settled, "amount", 2000) % 100 == 2:
            return declined(pid, settled, now, mint, variant)
        return 200, payment_intent(pid, settled, now, mint, variant)
    if collection == "charges":
        if oid is None:
            customer_id = query.get("customer")
            data = [charge(mint("ch"), mint("pi"), customer_id, 2000, now, mint)]
            return 200, _list("/v1/charges", data)
        return 200, charge(oid, None, None, 2000, now, mint)
    if collection == "refunds":
        return 200, refund(oid or mint("re"), params, now, mint)
    if collection == "products":
        return 200, product(oid or mint("prod"), params, now)
    if collection == "prices":
        return 200, price(oid or mint("price"), params, now)
    if collection == "subscriptions":
        sid = oid or mint("sub")
        sub = subscription(sid, params, now, mint)
        if method == "DELETE":
            sub["status"] = "canceled"
            sub["canceled_at"] = now
        return 200, sub
    if collection == "invoices":
        if oid is None:
            sub_id = query.get("subscription")
            return 200, _list("/v1/invoices", [invoice(mint("in"), None, sub_id, now)])
        return 200, invoice(oid, None, None, now)
    return _not_found(collection.rstrip("s") or "object", oid or path)
