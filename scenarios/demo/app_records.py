"""What the demo integration's own application keeps beside Stripe: a SQLite database of
its customers, subscriptions and invoices, keyed by its own ids with the Stripe id in a
column, the way a SaaS backend stores what Stripe answered it, and with the drifts such
a database grows:

- one canceled subscription the app still has as ACTIVE (a missed webhook);
- one invoice amount, kept in decimal, a cent short (a rounding slip in a migration);
- one customer with no row at all (a failed insert).

Written from the answers the driver received (the recording's last known state of
each object), so its ids are the recording's:

    python -m scenarios.demo.app_records recordings/demo.jsonl recordings/demo-app.sqlite

`make demo-recording` writes it with the recording; `shadow demo` reconciles the two
through scenarios/demo/app-mapping.yaml.
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.formats.recording import RecordingReader
from harness.reconcile.stripe_side import last_states

KINDS = frozenset({"customer", "subscription", "invoice"})
# The app shows sign-up times in its office's zone, with the offset kept.
OFFICE = timezone(timedelta(hours=1))

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY, stripe_customer_id TEXT UNIQUE, email TEXT, signed_up_at TEXT
);
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
    stripe_subscription_id TEXT UNIQUE, stripe_customer_id TEXT, plan TEXT, state TEXT,
    renews_at TIMESTAMP
);
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY, stripe_invoice_id TEXT UNIQUE, stripe_customer_id TEXT,
    amount NUMERIC(10, 2), currency TEXT, paid INTEGER
);
"""


def app_states(recording: Path) -> dict[str, list[dict[str, Any]]]:
    """Each customer, subscription and invoice the driver saw, in the order it first saw
    them, as last answered (a deleted one left out: the app deleted its row too)."""
    states: dict[str, dict[str, dict[str, Any] | None]] = {kind: {} for kind in KINDS}
    with RecordingReader(recording) as exchanges:
        for exchange in exchanges:
            for kind, object_id, state in last_states(exchange, KINDS):
                states[kind][object_id] = state
    return {
        kind: [state for state in found.values() if state is not None]
        for kind, found in states.items()
    }


def _local(moment: int, zone: timezone) -> str:
    return datetime.fromtimestamp(moment, UTC).astimezone(zone).isoformat()


def write_app_database(out: Path, states: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The app's database at `out` (replaced), with the three drifts planted; returns
    which Stripe object each drift is on."""
    out.unlink(missing_ok=True)
    customers = states["customer"]
    subscriptions = states["subscription"]
    invoices = states["invoice"]
    missing = customers[-1]["id"]
    canceled = next(s["id"] for s in subscriptions if s["status"] == "canceled")
    slipped = next(i["id"] for i in invoices if i["amount_due"] > 0)
    with sqlite3.connect(out) as db:
        db.executescript(SCHEMA)
        own_ids: dict[str, int] = {}
        for number, customer in enumerate(customers, start=1):
            if customer["id"] == missing:
                continue
            own_ids[customer["id"]] = number
            db.execute(
                "INSERT INTO customers VALUES (?, ?, ?, ?)",
                (number, customer["id"], customer["email"], _local(customer["created"], OFFICE)),
            )
        for number, subscription in enumerate(subscriptions, start=1):
            state = "ACTIVE" if subscription["id"] == canceled else subscription["status"].upper()
            renews = datetime.fromtimestamp(subscription["current_period_end"], UTC)
            db.execute(
                "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    own_ids.get(subscription["customer"]),
                    subscription["id"],
                    subscription["customer"],
                    subscription["plan"]["id"],
                    state,
                    renews.replace(tzinfo=None).isoformat(sep=" "),  # naive, in UTC
                ),
            )
        for number, invoice in enumerate(invoices, start=1):
            amount = Decimal(invoice["amount_due"]).scaleb(-2)
            if invoice["id"] == slipped:
                amount -= Decimal("0.01")
            db.execute(
                "INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?)",
                (
                    number,
                    invoice["id"],
                    invoice["customer"],
                    str(amount),
                    invoice["currency"].upper(),
                    1 if invoice["status"] == "paid" else 0,
                ),
            )
    return {"missing customer": missing, "still active": canceled, "rounding slip": slipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path, help="the demo recording, recordings/demo.jsonl")
    parser.add_argument("out", type=Path, help="the database to write, recordings/demo-app.sqlite")
    options = parser.parse_args()
    planted = write_app_database(options.out, app_states(options.recording))
    for drift, object_id in planted.items():
        print(f"{drift}: {object_id}")


if __name__ == "__main__":
    main()
