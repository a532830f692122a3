"""`shadow reconcile --source` at growing sizes, each a process of its own: a SQLite
source of N subscription rows against a recording of N subscription objects (list
pages of 100, as a walk of `GET /v1/subscriptions` records them), with known drifts
planted so each run's counts are checked, not assumed.

Figures: peak memory against the smallest size (both sides stream, so it should stay
flat), and CPU time per row against the smallest size's (it should grow linearly).
Wall time is in the notes."""

from __future__ import annotations

import json
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

from bench.measure import Measured, run_measured
from bench.memory import size_label
from bench.results import Figure
from harness.formats.recording import Header, RecordingWriter
from harness.model import Exchange, Request, Response

_BIN = Path(sys.executable).parent
PAGE = 100
START = 1_795_435_200  # 2026-11-22, a chosen moment
# Drifts planted, by the object's number: its status, its amount, its row missing; and
# objects only in the source (rows past the recording's objects).
STATUS_EVERY, AMOUNT_EVERY, MISSING_EVERY, EXTRA_EVERY = 1000, 700, 5000, 2000

MAPPING = """\
version: 1
objects:
  subscription:
    table: subscriptions
    key: id
    stripe_id: stripe_id
    fields:
      customer: stripe_customer
      status: {column: state, values: {ACTIVE: active, CANCELED: canceled}}
      plan.amount: {column: price, convert: decimal_to_minor}
      current_period_end: {column: renews_at, convert: timestamp}
"""


def _subscription(number: int) -> dict[str, object]:
    return {
        "id": f"sub_B{number:012d}",
        "object": "subscription",
        "customer": f"cus_B{number:012d}",
        "status": "canceled" if number % 10 == 0 else "active",
        "plan": {"id": "basic-monthly", "object": "plan", "amount": 900 + number % 7 * 100},
        "current_period_end": START + number,
        "created": START,
    }


def write_recording(path: Path, objects: int) -> None:
    """N subscriptions as list pages of 100."""
    with RecordingWriter(path, Header(redaction={"applied": True})) as writer:
        for page in range(0, objects, PAGE):
            data = [_subscription(n) for n in range(page, min(page + PAGE, objects))]
            body = {
                "object": "list",
                "data": data,
                "has_more": page + PAGE < objects,
                "url": "/v1/subscriptions",
            }
            query = f"limit=100&starting_after=sub_B{page - 1:012d}" if page else "limit=100"
            writer.write(
                Exchange(
                    page // PAGE,
                    START + page / PAGE,
                    0.05,
                    Request("GET", "/v1/subscriptions", query, [], ""),
                    Response(200, [("Content-Type", "application/json")], json.dumps(body)),
                )
            )


def write_source(path: Path, objects: int) -> dict[str, int]:
    """The app's N rows (less the missing ones, plus its own extras); returns the
    outcomes the reconciliation must find."""
    path.unlink(missing_ok=True)
    expected = {"match": 0, "field differs": 0, "only in source": 0, "only in Stripe": 0}
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE subscriptions (id INTEGER PRIMARY KEY, stripe_id TEXT, "
            "stripe_customer TEXT, state TEXT, price NUMERIC, renews_at TEXT)"
        )

        def rows():  # type: ignore[no-untyped-def]
            for number in range(objects):
                state = _subscription(number)
                if number % MISSING_EVERY == 1:
                    expected["only in Stripe"] += 1
                    continue
                status = str(state["status"]).upper()
                if number % STATUS_EVERY == 3:
                    status = "ACTIVE" if status == "CANCELED" else "CANCELED"
                amount = Decimal(state["plan"]["amount"]).scaleb(-2)  # type: ignore[index]
                if number % AMOUNT_EVERY == 5:
                    amount -= Decimal("0.01")
                drifted = number % STATUS_EVERY == 3 or number % AMOUNT_EVERY == 5
                expected["field differs" if drifted else "match"] += 1
                yield (
                    number,
                    state["id"],
                    state["customer"],
                    status,
                    str(amount),
                    f"@{state['current_period_end']}",
                )
                if number % EXTRA_EVERY == 7:
                    expected["only in source"] += 1
                    yield (objects + number, f"sub_X{number:012d}", None, "ACTIVE", "9.00", None)

        db.executemany(
            "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, replace(?, '@', ''))", rows()
        )
    return expected


def run_size(work: Path, objects: int) -> tuple[Measured, int]:
    """Reconcile N rows against N objects; checks the counts; returns the cost and the
    rows read."""
    folder = work / "reconcile"
    folder.mkdir(parents=True, exist_ok=True)
    recording = folder / f"subscriptions-{objects}.jsonl"
    if not recording.exists():
        write_recording(recording, objects)
    source = folder / f"app-{objects}.sqlite"
    expected = write_source(source, objects)
    mapping = folder / "mapping.yaml"
    mapping.write_text(MAPPING)
    out = folder / f"out-{objects}"
    measured = run_measured(
        [
            str(_BIN / "shadow"),
            "reconcile",
            "--source",
            str(source),
            "--mapping",
            str(mapping),
            "--stripe",
            str(recording),
            "--out",
            str(out),
            "--max-drift",
            str(objects),
        ],
        timeout=6 * 3600,
    )
    if measured.returncode != 0:
        raise RuntimeError(f"shadow reconcile failed: {measured.stderr[-800:]}")
    document = json.loads((out / "reconcile.json").read_text())
    found = {k: v for k, v in document["totals"].items() if k in expected}
    if found != expected:
        raise RuntimeError(f"reconcile of {objects}: found {found}, planted {expected}")
    return measured, document["objects"]["subscription"]["rows"]


def measure(work: Path, sizes: tuple[int, ...], target_ratio: float = 1.5) -> list[Figure]:
    runs = [(objects, *run_size(work, objects)) for objects in sizes]
    smallest, small, small_rows = runs[0]
    found = []
    for objects, measured, rows in runs:
        label = size_label(objects)
        note = (
            f"{rows:,} rows against {objects:,} objects: {measured.wall:.1f} s wall, "
            f"{measured.cpu:.1f} s CPU, peak {measured.peak_mib:.0f} MiB"
        )
        found.append(
            Figure(
                f"reconcile.peak_mib_{label}",
                f"reconcile: peak memory, {label} rows and objects",
                measured.peak_mib,
                "MiB",
                small.peak_mib,
                f"{size_label(smallest)} rows",
                target=f"<= {target_ratio}" if objects != smallest else "",
                note=note,
            )
        )
        found.append(
            Figure(
                f"reconcile.cpu_us_per_row_{label}",
                f"reconcile: CPU per row, {label} rows and objects",
                measured.cpu / rows * 1e6,
                "µs",
                small.cpu / small_rows * 1e6,
                f"{size_label(smallest)} rows",
                target=f"<= {target_ratio}" if objects != smallest else "",
                note=note,
            )
        )
    return found
