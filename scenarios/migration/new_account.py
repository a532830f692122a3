"""The new account of the migration demo: a localstripe that the old account's customers
and cards are copied to, as Stripe's account-to-account copy does, and the mapping file
the copy hands back.

    python -m scenarios.migration.new_account --port 12180 \
        --mapping scenarios/migration/mapping.csv

serves the new account on 127.0.0.1:12180 until Ctrl-C; in another shell

    MIGRATED_ACCOUNT_KEY=sk_test_shadowlocalstripe0000 \
        shadow replay scenarios/migrated-account.yaml

A copy keeps customer ids and gives payment methods new ones. localstripe refuses a
customer `id` on create, so there the customers get new ids too and the mapping lists
them as well; against a target that takes the id it stays as it was.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import stripe

from harness.errors import InfrastructureError, ShadowError
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe_command
from harness.replay.launch.process import LocalProcess, free_port
from harness.stripe import DEFAULT_TEST_CARD, TEST_CARDS, TEST_CVC

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "old-account.json"


def _customer(client: stripe.StripeClient, old: dict[str, Any]) -> str:
    """Create the customer under its old id where the target allows it, else a new one."""
    fields = {k: v for k, v in old.items() if k not in ("id", "payment_methods")}
    fields.pop("default_payment_method", None)
    fields = {k: v for k, v in fields.items() if v is not None}
    try:
        return client.v1.customers.create({"id": old["id"], **fields}).id  # type: ignore[typeddict-unknown-key]
    except stripe.InvalidRequestError:
        return client.v1.customers.create(fields).id  # type: ignore[arg-type]


def copy_account(
    api_base: str, api_key: str, snapshot: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """Copy the snapshot's customers and cards to the account at `api_base`; returns the
    mapping rows (old id, new id, type)."""
    client = stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=0)
    rows: list[tuple[str, str, str]] = []
    for old in snapshot["customers"]:
        customer = _customer(client, old)
        rows.append((old["id"], customer, "customer"))
        new_methods: dict[str, str] = {}
        for method in old["payment_methods"]:
            card = method["card"]
            created = client.v1.payment_methods.create(
                {
                    "type": "card",
                    "card": {
                        # The snapshot holds no card number: the test card with the same
                        # last four digits behaves as the copied card did.
                        "number": TEST_CARDS.get(card["last4"], DEFAULT_TEST_CARD),
                        "exp_month": card["exp_month"],
                        "exp_year": card["exp_year"],
                        "cvc": TEST_CVC,
                    },
                    "billing_details": method.get("billing_details") or {},
                }
            )
            client.v1.payment_methods.attach(created.id, {"customer": customer})
            new_methods[method["id"]] = created.id
            rows.append((method["id"], created.id, "payment_method"))
        default = old.get("default_payment_method")
        if default in new_methods:
            client.v1.customers.update(
                customer, {"invoice_settings": {"default_payment_method": new_methods[default]}}
            )
    return rows


def write_mapping(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """The mapping file: CSV `old_id,new_id,type`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(("old_id", "new_id", "type"))
        writer.writerows(rows)


@contextmanager
def new_account(
    mapping: Path, port: int | None = None, snapshot: Path = SNAPSHOT, log: Path | None = None
) -> Iterator[str]:
    """A localstripe on 127.0.0.1:`port` (a free one by default) holding a copy of the
    old account, with its mapping written to `mapping`; yields its URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    process = LocalProcess(
        "new-account", localstripe_command(port), url, ready_path="/v1/balance", log_path=log
    )
    with process:
        rows = copy_account(url, LOCALSTRIPE_TEST_KEY, json.loads(snapshot.read_text()))
        write_mapping(mapping, rows)
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=12180, help="port on 127.0.0.1")
    parser.add_argument("--mapping", type=Path, default=HERE / "mapping.csv")
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with new_account(args.mapping, args.port, args.snapshot) as url:
            print(f"new account at {url} (key {LOCALSTRIPE_TEST_KEY}); mapping in {args.mapping}")
            sys.stdout.flush()
            with suppress(KeyboardInterrupt):
                stop.wait()
    except (ShadowError, InfrastructureError) as exc:
        raise SystemExit(f"new_account: error: {exc}") from None


if __name__ == "__main__":
    main()
