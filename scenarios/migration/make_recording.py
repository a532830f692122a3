"""Regenerate the migrated-account recording and the old account's snapshot.

    python -m scenarios.migration.make_recording recordings/migrated-account.jsonl \
        scenarios/migration/old-account.json

The demo's customers sign up on a localstripe (the old account) before recording starts,
so the recording refers to customers and cards it never creates, as traffic recorded
after a migration does. Their snapshot (ids, details, card brand, last four digits and
expiry; never a card number) is what scenarios/migration/new_account.py copies. Then the
rest of the demo integration runs through `shadow record`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import stripe

from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe
from scenarios.demo.driver import (
    CARD_3DS,
    CARD_ATTACHES_THEN_FAILS,
    CARD_MASTERCARD,
    CARD_OK,
    CountingHTTPClient,
    DemoBackend,
)
from scenarios.demo.make_recording import record_main, recorder

SIGN_UP_CARDS = (CARD_OK, CARD_MASTERCARD, CARD_ATTACHES_THEN_FAILS, CARD_3DS, CARD_OK, CARD_OK)
CUSTOMER_FIELDS = ("email", "name", "phone", "address", "description", "metadata")


def snapshot(client: stripe.StripeClient, backend: DemoBackend) -> dict[str, Any]:
    """The old account's customers and their cards, as a copy needs them."""
    customers = []
    for customer in backend.customers:
        fresh = client.v1.customers.retrieve(customer.id)
        method = client.v1.payment_methods.retrieve(backend.cards[customer.id])
        assert method.card is not None
        customers.append(
            {
                "id": fresh.id,
                **{name: fresh.to_dict().get(name) for name in CUSTOMER_FIELDS},
                "default_payment_method": backend.cards[customer.id],
                "payment_methods": [
                    {
                        "id": method.id,
                        "type": "card",
                        "card": {
                            "last4": method.card.last4,
                            "exp_month": method.card.exp_month,
                            "exp_year": method.card.exp_year,
                        },
                        "billing_details": {"name": method.billing_details.name},
                    }
                ],
            }
        )
    return {"customers": customers}


def make_recording(out: Path, snapshot_path: Path) -> int:
    """Sign the demo's customers up unrecorded, write their snapshot, then record the
    rest of the demo; returns the number of requests recorded."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"shadow-migration-localstripe-{os.getpid()}.log"
    with localstripe(log_path=log) as old_account:
        direct = stripe.StripeClient(
            LOCALSTRIPE_TEST_KEY, base_addresses={"api": old_account.url}, max_network_retries=0
        )
        backend = DemoBackend(direct)
        for index, card in enumerate(SIGN_UP_CARDS):
            backend.sign_up(index, card)
        snapshot_path.write_text(json.dumps(snapshot(direct, backend), indent=2) + "\n")
        with recorder(out, "--upstream", old_account.url) as proxy:
            http_client = CountingHTTPClient(timeout=30)
            recorded = stripe.StripeClient(
                LOCALSTRIPE_TEST_KEY,
                base_addresses={"api": proxy.url},
                max_network_retries=0,
                http_client=http_client,
            )
            backend.stripe = recorded.v1
            basic, pro = backend.catalogue()
            backend.payments()
            backend.setup_intents()
            backend.subscriptions(basic, pro)
            backend.invoices()
            backend.paginate()
            backend.mistakes()
            backend.offboard()
            return http_client.requests_sent


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "snapshot_path",
        metavar="snapshot",
        type=Path,
        help="e.g. scenarios/migration/old-account.json",
    )


def main() -> None:
    record_main(
        make_recording, __doc__.splitlines()[0], "recordings/migrated-account.jsonl", _options
    )


if __name__ == "__main__":
    main()
