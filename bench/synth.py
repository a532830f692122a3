"""Synthetic recordings of any size, shaped like a day of a merchant's Stripe traffic.

Customers are onboarded (customer, card payment method, attach, default method), then
pay (payment intents, some declined with a 402, some read back or refunded), subscribe
to one of a few prices (then list invoices, update, cancel), are read and updated, and
now and then deleted. Many customers are in flight at once, so their exchanges
interleave as they would in a real recording; now and then an id-less list of all
customers (a barrier for the replay) or a read of a price (the catalogue) comes in
between. Answers come from `bench.answers.answer`, the fast target's own, so a replay
against it agrees with the recording once ids and times are normalised.

Generation streams (constant memory) and is deterministic for a seed:

    python -m bench.synth build/bench/100k.jsonl --exchanges 100000 [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.answers import Answer, IdMint, answer
from harness.formats.recording import Header, RecordingWriter
from harness.model import Exchange, Request, Response

# Recorded at this time (2026-11-23 12:00 UTC), about twelve exchanges a second.
START = 1_795_435_200.0
SPACING = 0.08

_KEY_MARKER = "Bearer sk_test_<redacted:9dc0d88c>"
_VERSION = "2026-10-28.endive"
_CLIENT_UA = json.dumps(
    {
        "bindings_version": "16.1.0",
        "lang": "python",
        "httplib": "requests",
        "lang_version": "3.11.7",
        "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
        "publisher": "stripe",
        "uname": "Linux api-7f9c 6.1.0 #1 SMP x86_64",
    }
)


@dataclass(slots=True)
class Call:
    """One request a journey makes: method, path, query and form parameters."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


Journey = Generator[Call, Answer, None]


def _pay(rng: random.Random, customer: str, method: str) -> Journey:
    declined = rng.random() < 0.06
    amount = rng.randrange(5, 500) * 100 + (2 if declined else 0)
    params = {
        "amount": str(amount),
        "currency": "usd",
        "customer": customer,
        "payment_method": method,
        "confirm": "true",
        "metadata[order_id]": f"ord_{rng.getrandbits(40):010x}",
    }
    status, intent = yield Call("POST", "/v1/payment_intents", params)
    if status != 200:
        return
    if rng.random() < 0.5:
        yield Call("GET", f"/v1/payment_intents/{intent['id']}")
    if rng.random() < 0.15:
        refund = {"payment_intent": intent["id"], "amount": str(amount // 2)}
        yield Call("POST", "/v1/refunds", refund)


def _subscribe(rng: random.Random, customer: str, method: str, prices: list[str]) -> Journey:
    params = {
        "customer": customer,
        "items[0][price]": rng.choice(prices),
        "default_payment_method": method,
        "metadata[plan_source]": "web",
    }
    _, sub = yield Call("POST", "/v1/subscriptions", params)
    yield Call("GET", "/v1/invoices", query={"subscription": sub["id"], "limit": "3"})
    if rng.random() < 0.3:
        change = {
            "items[0][id]": sub["items"]["data"][0]["id"],
            "items[0][price]": rng.choice(prices),
            "proration_behavior": "none",
        }
        yield Call("POST", f"/v1/subscriptions/{sub['id']}", change)
    if rng.random() < 0.2:
        yield Call("DELETE", f"/v1/subscriptions/{sub['id']}")


def customer_journey(rng: random.Random, prices: list[str]) -> Journey:
    """One customer's day: onboarding, then payments, a subscription, reads, updates."""
    number = rng.getrandbits(32)
    onboard = {
        "email": f"customer{number}@example.com",
        "name": f"Customer {number}",
        "metadata[user_id]": str(number),
    }
    _, cus = yield Call("POST", "/v1/customers", onboard)
    customer = cus["id"]
    card = rng.choice(["4242", "4242", "4242", "4444", "0005"])
    _, pm = yield Call(
        "POST",
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": f"<redacted:card:{card}>",
            "card[exp_month]": str(rng.randint(1, 12)),
            "card[exp_year]": str(rng.randint(2027, 2033)),
            "card[cvc]": "<redacted:cvc>",
        },
    )
    method = pm["id"]
    yield Call("POST", f"/v1/payment_methods/{method}/attach", {"customer": customer})
    default = {"invoice_settings[default_payment_method]": method}
    yield Call("POST", f"/v1/customers/{customer}", default)
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.5:
            yield from _pay(rng, customer, method)
        elif roll < 0.65:
            yield from _subscribe(rng, customer, method, prices)
        elif roll < 0.85:
            yield Call("GET", f"/v1/customers/{customer}")
            query = {"customer": customer, "limit": "3"}
            yield Call("GET", rng.choice(["/v1/charges", "/v1/payment_intents"]), query=query)
        else:
            update = {"metadata[segment]": rng.choice(["smb", "mid", "enterprise"])}
            yield Call("POST", f"/v1/customers/{customer}", update)
    if rng.random() < 0.1:
        yield Call("DELETE", f"/v1/customers/{customer}")


def catalogue_journey(prices: list[str], count: int) -> Journey:
    """The products and prices every subscription refers to, made first."""
    for index in range(count):
        _, product = yield Call("POST", "/v1/products", {"name": f"Plan {index}"})
        params = {
            "product": product["id"],
            "unit_amount": str(1000 + 500 * index),
            "currency": "usd",
            "recurring[interval]": "month",
        }
        _, made = yield Call("POST", "/v1/prices", params)
        prices.append(made["id"])


def _request(call: Call, rng: random.Random) -> Request:
    headers = [
        ("Host", "api.stripe.com"),
        ("User-Agent", "Stripe/v1 PythonBindings/16.1.0"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
        ("X-Stripe-Client-User-Agent", _CLIENT_UA),
        ("Authorization", _KEY_MARKER),
        ("Stripe-Version", _VERSION),
    ]
    body = ""
    if call.method == "POST":
        headers.append(("Idempotency-Key", f"{rng.getrandbits(128):032x}"))
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        body = urlencode(call.params, safe="[]<>:")
        headers.append(("Content-Length", str(len(body))))
    return Request(
        method=call.method,
        path=call.path,
        query=urlencode(call.query),
        headers=headers,
        body=body,
        scheme="https",
        host="api.stripe.com",
        port=443,
    )


def _response(status: int, data: dict[str, Any], mint: IdMint) -> Response:
    body = json.dumps(data, indent=2) + "\n"
    return Response(
        status=status,
        headers=[
            ("Server", "nginx"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "keep-alive"),
            ("Cache-Control", "no-cache, no-store"),
            ("Request-Id", mint("req")),
            ("Stripe-Version", _VERSION),
            ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
        ],
        body=body,
    )


def exchanges(count: int, seed: int = 1, in_flight: int = 64) -> Iterator[Exchange]:
    """`count` exchanges of interleaved customer journeys, deterministic for `seed`."""
    rng = random.Random(seed)
    mint = IdMint(f"Rs{seed % 1000:03d}")
    prices: list[str] = []
    active: list[tuple[Journey, Call]] = []
    catalogue = catalogue_journey(prices, 4)
    pending: tuple[Journey, Call] | None = (catalogue, next(catalogue))
    for seq in range(count):
        started = START + seq * SPACING
        if pending is not None:
            journey, call = pending
        else:
            roll = rng.random()
            if roll < 0.002:
                journey, call = _single(Call("GET", "/v1/customers", query={"limit": "3"}))
            elif roll < 0.004 and prices:
                journey, call = _single(Call("GET", f"/v1/prices/{rng.choice(prices)}"))
            else:
                while len(active) < in_flight:
                    fresh = customer_journey(rng, prices)
                    active.append((fresh, next(fresh)))
                journey, call = active.pop(rng.randrange(len(active)))
        request = _request(call, rng)
        status, data = answer(
            call.method, call.path, request.query, str(request.body), int(started), mint
        )
        yield Exchange(
            seq=seq,
            started=round(started, 3),
            duration=round(0.15 + rng.random() * 0.3, 3),
            request=request,
            response=_response(status, data, mint),
        )
        try:
            following = (journey, journey.send((status, data)))
        except StopIteration:
            following = None
        if pending is not None:
            pending = following
        elif following is not None:
            active.append(following)


def _single(call: Call) -> tuple[Journey, Call]:
    def one() -> Journey:
        yield call

    journey = one()
    return journey, next(journey)


def synthesize(path: Path, count: int, seed: int = 1) -> Path:
    """Write a recording of `count` exchanges to `path` (streaming, constant memory)."""
    header = Header(
        source={"kind": "synthetic", "generator": "bench.synth", "seed": seed},
        redaction={"applied": True, "rules": ["api_keys", "card_numbers", "cvc"], "pii": "keep"},
    )
    with RecordingWriter(path, header) as writer:
        for exchange in exchanges(count, seed):
            writer.write(exchange)
    return path


def cached(directory: Path, count: int, seed: int = 1) -> Path:
    """A synthetic recording of `count` exchanges under `directory`, made once."""
    path = directory / f"synthetic-{count}-s{seed}-v{GENERATOR_VERSION}.jsonl"
    if not path.exists():
        partial = path.with_name(f".{path.name}.partial")
        synthesize(partial, count, seed)
        partial.replace(path)
    return path


# Bumped whenever the generated traffic changes, so cached recordings are made again.
GENERATOR_VERSION = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--exchanges", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    synthesize(args.out, args.exchanges, args.seed)
    print(f"wrote {args.exchanges} exchanges to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
