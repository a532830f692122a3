"""`shadow reconcile --source`: the demo app's database against the demo recording, the
same through CSV files and through a real PostgreSQL server, a live localstripe as
Stripe's side, the conversions and the mistakes that must cost one line and exit 2 (or
3) with nothing written."""

from __future__ import annotations

import csv
import json
import shutil
import socket
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import stripe
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from harness.reconcile.convert import ConversionOptions, ConversionProblem, convert
from harness.reconcile.mapping import FieldMapping
from harness.reconcile.match import EMPTY_IN_SOURCE, EMPTY_IN_STRIPE, VALUE, compare_field
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from scenarios.demo.app_records import app_states, write_app_database

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "recordings" / "demo.jsonl"
APP = ROOT / "recordings" / "demo-app.sqlite"
MAPPING = ROOT / "scenarios" / "demo" / "app-mapping.yaml"
# The drifts scenarios/demo/app_records.py planted in the shipped app database.
STILL_ACTIVE = "sub_nThErG2pf6n3W7"
SLIPPED = "in_nyUor0a4CPdyaO"
MISSING = "cus_RyNgKfDuwcBCOY"


def reconcile(*args: str) -> Result:
    return CliRunner().invoke(main, ["reconcile", *args])


def demo_reconciled(source: str, out: Path, mapping: Path = MAPPING) -> dict[str, Any]:
    result = reconcile(
        "--source", source, "--mapping", str(mapping), "--stripe", str(DEMO), "--out", str(out)
    )
    assert result.exit_code == 1, result.output  # it drifted
    return json.loads((out / "reconcile.json").read_text())


def assert_the_three_planted_drifts(document: dict[str, Any]) -> None:
    assert document["totals"] == {
        "match": 12,
        "field differs": 2,
        "only in source": 0,
        "only in Stripe": 1,
        "duplicate": 0,
    }
    assert document["drift"] == 3
    causes = [(c["object"], c["field"], c["kind"], c["count"]) for c in document["causes"]]
    assert sorted(causes) == [
        ("invoice", "amount_due", VALUE, 1),
        ("subscription", "status", VALUE, 1),
    ]
    by_field = {c["field"]: c["samples"][0] for c in document["causes"]}
    assert by_field["status"]["stripe_id"] == STILL_ACTIVE
    assert (by_field["status"]["source"], by_field["status"]["stripe"]) == ("ACTIVE", "canceled")
    slip = by_field["amount_due"]
    assert slip["stripe_id"] == SLIPPED
    assert (Decimal(str(slip["source"])), slip["converted"], slip["stripe"]) == (
        Decimal("8.99"),
        899,
        900,
    )
    customers = document["objects"]["customer"]
    assert customers["only_in_stripe"]["count"] == 1
    assert customers["only_in_stripe"]["samples"][0]["stripe_id"] == MISSING


def test_the_demo_app_database_shows_exactly_its_three_planted_drifts(tmp_path: Path) -> None:
    document = demo_reconciled(str(APP), tmp_path / "out")
    assert_the_three_planted_drifts(document)
    assert document["format"] == "stripe-shadow-reconcile" and document["version"] == 1
    assert document["stripe"] == {"kind": "recording", "where": str(DEMO), "exchanges": 85}
    page = (tmp_path / "out" / "index.html").read_text()
    assert STILL_ACTIVE in page and "<script" not in page


def test_the_shipped_database_is_what_the_driver_writes_from_the_shipped_recording(
    tmp_path: Path,
) -> None:
    written = tmp_path / "app.sqlite"
    planted = write_app_database(written, app_states(DEMO))
    assert planted == {
        "missing customer": MISSING,
        "still active": STILL_ACTIVE,
        "rounding slip": SLIPPED,
    }

    def dump(path: Path) -> list[str]:
        with sqlite3.connect(path) as db:
            return list(db.iterdump())

    assert dump(written) == dump(APP)


def test_a_url_a_csv_directory_and_matching_records_agree(tmp_path: Path) -> None:
    url_document = demo_reconciled(f"sqlite:///{APP}", tmp_path / "url")
    assert_the_three_planted_drifts(url_document)

    exported = tmp_path / "csv"
    exported.mkdir()
    with sqlite3.connect(APP) as db:
        for table in ("customers", "subscriptions", "invoices"):
            cursor = db.execute(f"SELECT * FROM {table}")
            with (exported / f"{table}.csv").open("w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow([d[0] for d in cursor.description])
                writer.writerows(cursor)
    assert_the_three_planted_drifts(demo_reconciled(str(exported), tmp_path / "from-csv"))

    # The drifts put right, everything matches and the exit code is 0.
    fixed = tmp_path / "fixed.sqlite"
    shutil.copy(APP, fixed)
    with sqlite3.connect(fixed) as db:
        db.execute(
            "UPDATE subscriptions SET state = 'CANCELED' WHERE stripe_subscription_id = ?",
            (STILL_ACTIVE,),
        )
        db.execute("UPDATE invoices SET amount = '9.00' WHERE stripe_invoice_id = ?", (SLIPPED,))
        db.execute(
            "INSERT INTO customers (stripe_customer_id, email, signed_up_at) "
            "VALUES (?, 'owner4@example4.org', '2026-11-23T20:24:59+01:00')",
            (MISSING,),
        )
    out = tmp_path / "clean"
    result = reconcile(
        "--source", str(fixed), "--mapping", str(MAPPING), "--stripe", str(DEMO), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "reconcile.json").read_text())
    assert document["drift"] == 0 and document["totals"]["match"] == 15
    assert "Every record matches" in (out / "index.html").read_text()


def test_rows_only_in_the_source_and_duplicates_are_counted_with_why(tmp_path: Path) -> None:
    app = tmp_path / "app.sqlite"
    shutil.copy(APP, app)
    with sqlite3.connect(app) as db:
        db.executescript(  # the same table without its UNIQUE constraint
            "CREATE TABLE loose AS SELECT * FROM invoices; DROP TABLE invoices;"
            "ALTER TABLE loose RENAME TO invoices;"
        )
        db.execute(
            "INSERT INTO invoices (stripe_invoice_id, amount, currency, paid) "
            "VALUES ('in_NeverMadeAAAAAA', 1, 'USD', 1), (NULL, 2, 'USD', 0)"
        )
        db.execute(
            "INSERT INTO invoices (stripe_invoice_id, stripe_customer_id, amount, currency,"
            " paid) SELECT stripe_invoice_id, stripe_customer_id, amount, currency, paid "
            "FROM invoices WHERE id = 1"
        )
    document = demo_reconciled(str(app), tmp_path / "out")
    invoices = document["objects"]["invoice"]
    assert invoices["outcomes"]["only in source"] == 2
    assert {g["why"]: g["count"] for g in invoices["only_in_source"]} == {
        "no Stripe id in the row": 1,
        "no such object in Stripe": 1,
    }
    assert invoices["outcomes"]["duplicate"] == 1
    assert document["drift"] == 6


# --- the conversions and the field comparison (plain data) ---------------------------------


def field(name: str, convert_name: str | None = None, **options: Any) -> FieldMapping:
    return FieldMapping(name, name, convert_name, ConversionOptions(**options))


def test_each_conversion_turns_the_customers_form_into_stripes() -> None:
    paris = ConversionOptions(timezone="Europe/Paris")
    assert convert("19.99", "decimal_to_minor", ConversionOptions(), None) == 1999
    assert convert(Decimal("19.999"), "decimal_to_minor", ConversionOptions(), None) == Decimal(
        "1999.9"
    )
    assert convert("1500", "decimal_to_minor", ConversionOptions(exponent=0), None) == 1500
    assert convert("2026-11-24 17:45:00", "timestamp", paris, None) == 1795538700
    assert convert(datetime(2026, 11, 24, 16, 45, tzinfo=UTC), "timestamp", paris, None) == (
        1795538700
    )
    assert convert("2026-11-24T17:45:00+01:00", "timestamp", ConversionOptions(), None) == (
        1795538700
    )
    assert convert("USD", "lowercase", ConversionOptions(), None) == "usd"
    assert convert("Y", "boolean", ConversionOptions(), None) is True
    vocabulary = ConversionOptions(values={"1": "active", "ACTIVE": "active"})
    assert convert(1, None, vocabulary, "active") == "active"
    assert convert("ACTIVE", None, vocabulary, "active") == "active"
    # With no conversion, CSV text takes the type of Stripe's value.
    assert convert("900", None, ConversionOptions(), 900) == 900
    assert convert("", None, ConversionOptions(), 900) is None
    with pytest.raises(ConversionProblem, match="'twelve' is not a decimal amount"):
        convert("twelve", "decimal_to_minor", ConversionOptions(), None)
    with pytest.raises(ConversionProblem, match="not an ISO 8601 time"):
        convert("last tuesday", "timestamp", ConversionOptions(), None)


@given(cents=st.integers(min_value=-(10**12), max_value=10**12))
def test_a_decimal_amount_converts_back_to_the_cents_it_was_written_from(cents: int) -> None:
    written = str(Decimal(cents).scaleb(-2))
    assert convert(written, "decimal_to_minor", ConversionOptions(), None) == cents


@given(
    moment=st.integers(min_value=0, max_value=4_000_000_000),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_a_time_with_any_offset_converts_to_the_same_unix_seconds(moment: int, offset: int) -> None:
    local = datetime.fromtimestamp(moment, UTC).astimezone(timezone(timedelta(minutes=offset)))
    assert convert(local.isoformat(), "timestamp", ConversionOptions(), None) == moment
    assert convert(local, "timestamp", ConversionOptions(), None) == moment


def test_a_field_differs_by_value_or_by_being_empty_on_one_side() -> None:
    state = {
        "id": "sub_1",
        "object": "subscription",
        "status": "active",
        "plan": {"id": "gold"},
        "canceled_at": None,
        "customer": {"id": "cus_1", "object": "customer"},
    }
    assert compare_field(field("status"), "active", state) is None
    assert compare_field(field("plan.id"), "gold", state) is None
    assert compare_field(field("customer"), "cus_1", state) is None  # expanded, read as its id
    assert compare_field(field("canceled_at"), None, state) is None
    differs = compare_field(field("status"), "past_due", state)
    assert differs is not None and differs.kind == VALUE
    empty = compare_field(field("status"), None, state)
    assert empty is not None and empty.kind == EMPTY_IN_SOURCE
    absent = compare_field(field("canceled_at", "timestamp"), "2026-11-24T00:00:00Z", state)
    assert absent is not None and absent.kind == EMPTY_IN_STRIPE


# --- mistakes: one line, exit 2 (3 for an unreachable database), nothing written -------------


def write_mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return path


def refused(tmp_path: Path, source: str, mapping: Path, code: int = 2) -> str:
    out = tmp_path / "refused"
    result = reconcile(
        "--source", source, "--mapping", str(mapping), "--stripe", str(DEMO), "--out", str(out)
    )
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("shadow: error: "), result.output
    assert "Traceback" not in result.output
    assert not out.exists() or {p.name for p in out.iterdir()} == {"reconcile.json", "index.html"}
    return lines[0]


MINIMAL = """\
version: 1
objects:
  invoice:
    table: {table}
    stripe_id: stripe_invoice_id
    fields:
      amount_due: {{column: {column}, convert: {convert}}}
"""


def test_a_missing_table_or_column_names_it_and_the_mapping_field(tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path, MINIMAL.format(table="bills", column="amount", convert="decimal_to_minor")
    )
    line = refused(tmp_path, str(APP), mapping)
    assert "no table 'bills' (mapping objects.invoice.table)" in line
    mapping = write_mapping(
        tmp_path, MINIMAL.format(table="invoices", column="total", convert="decimal_to_minor")
    )
    line = refused(tmp_path, str(APP), mapping)
    assert "no column 'total' (mapping objects.invoice)" in line and "it has id, " in line


def test_a_mapping_mistake_names_its_line_and_field(tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path, MINIMAL.format(table="invoices", column="amount", convert="decimal_to_cents")
    )
    line = refused(tmp_path, str(APP), mapping)
    assert f"{mapping}:7: objects.invoice.fields.amount_due.convert: unknown conversion" in line
    assert "decimal_to_minor" in line  # did you mean
    mapping = write_mapping(tmp_path, "version: 1\nobjects:\n  invoice:\n    table: invoices\n")
    line = refused(tmp_path, str(APP), mapping)
    assert f"{mapping}:4: objects.invoice.stripe_id: give a name" in line


def test_a_value_that_cannot_convert_names_the_row_and_column(tmp_path: Path) -> None:
    app = tmp_path / "app.sqlite"
    shutil.copy(APP, app)
    with sqlite3.connect(app) as db:
        db.execute("UPDATE invoices SET amount = 'n/a' WHERE id = 3")
    # A reconciliation written before stays as it was.
    earlier = demo_reconciled(str(APP), tmp_path / "refused")
    line = refused(tmp_path, str(app), MAPPING)
    assert json.loads((tmp_path / "refused" / "reconcile.json").read_text()) == earlier
    assert "invoices row 3: column 'amount': 'n/a' is not a decimal amount" in line
    assert "objects.invoice.fields.amount_due.convert" in line


def test_a_source_that_is_not_there_is_exit_2_and_an_unreachable_database_exit_3(
    tmp_path: Path,
) -> None:
    assert "no such SQLite file" in refused(tmp_path, f"sqlite:///{tmp_path}/none.db", MAPPING)
    assert not (tmp_path / "none.db").exists()  # opened read-only: nothing created
    assert "no such file or directory" in refused(tmp_path, str(tmp_path / "none.db"), MAPPING)
    assert "no driver for it" in refused(tmp_path, "nosuchdb://host/app", MAPPING)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    line = refused(
        tmp_path, f"postgresql+psycopg://shadow:hunter2@127.0.0.1:{port}/app", MAPPING, code=3
    )
    assert "cannot connect" in line and "hunter2" not in line and "***" in line


# --- Stripe's side from a live target ---------------------------------------------------------


@pytest.mark.e2e
def test_a_live_target_is_listed_page_by_page_within_its_rate(
    localstripe_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = stripe.StripeClient(
        LOCALSTRIPE_TEST_KEY, base_addresses={"api": localstripe_url}, max_network_retries=0
    )
    customers = [client.v1.customers.create({"email": f"c{i}@example.org"}) for i in range(3)]
    app = tmp_path / "app.sqlite"
    with sqlite3.connect(app) as db:
        db.execute("CREATE TABLE accounts (stripe_id TEXT, email TEXT)")
        db.executemany(
            "INSERT INTO accounts VALUES (?, ?)",
            [
                (customers[0].id, "c0@example.org"),
                (customers[1].id, "changed@example.org"),
                ("cus_GoneLongAgo0001", "gone@example.org"),
            ],
        )
    mapping = write_mapping(
        tmp_path,
        "version: 1\nobjects:\n  customer:\n    table: accounts\n"
        "    stripe_id: stripe_id\n    fields:\n      email: email\n",
    )
    monkeypatch.setenv("SHADOW_TEST_RECONCILE_KEY", LOCALSTRIPE_TEST_KEY)
    out = tmp_path / "out"
    result = reconcile(
        "--source",
        str(app),
        "--mapping",
        str(mapping),
        "--stripe",
        localstripe_url,
        "--api-key-env",
        "SHADOW_TEST_RECONCILE_KEY",
        "--rate",
        "5",
        "--out",
        str(out),
        "--max-drift",
        "3",
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "reconcile.json").read_text())
    assert document["stripe"]["kind"] == "target" and document["stripe"]["requests"] == 1
    assert document["objects"]["customer"]["outcomes"] == {
        "match": 1,
        "field differs": 1,
        "only in source": 1,
        "only in Stripe": 1,
        "duplicate": 0,
    }
    assert document["objects"]["customer"]["only_in_stripe"]["samples"][0]["stripe_id"] == (
        customers[2].id
    )
    missing_key = reconcile(
        "--source",
        str(app),
        "--mapping",
        str(mapping),
        "--stripe",
        localstripe_url,
        "--out",
        str(tmp_path / "none"),
    )
    assert missing_key.exit_code == 2 and "--api-key-env" in missing_key.output


# --- PostgreSQL, a real server ----------------------------------------------------------------


def copy_to(url: str) -> None:
    """The demo app's tables into another database, with its own column types."""
    source = sqlalchemy.create_engine(f"sqlite:///{APP}")
    target = sqlalchemy.create_engine(url)
    metadata = sqlalchemy.MetaData()
    columns = {
        "customers": [
            ("id", sqlalchemy.Integer),
            ("stripe_customer_id", sqlalchemy.Text),
            ("email", sqlalchemy.Text),
            ("signed_up_at", sqlalchemy.Text),
        ],
        "subscriptions": [
            ("id", sqlalchemy.Integer),
            ("customer_id", sqlalchemy.Integer),
            ("stripe_subscription_id", sqlalchemy.Text),
            ("stripe_customer_id", sqlalchemy.Text),
            ("plan", sqlalchemy.Text),
            ("state", sqlalchemy.Text),
            ("renews_at", sqlalchemy.DateTime),
        ],
        "invoices": [
            ("id", sqlalchemy.Integer),
            ("stripe_invoice_id", sqlalchemy.Text),
            ("stripe_customer_id", sqlalchemy.Text),
            ("amount", sqlalchemy.Numeric(10, 2)),
            ("currency", sqlalchemy.Text),
            ("paid", sqlalchemy.Integer),
        ],
    }
    tables = {
        name: sqlalchemy.Table(name, metadata, *(sqlalchemy.Column(c, t) for c, t in cols))
        for name, cols in columns.items()
    }
    metadata.create_all(target)
    with source.connect() as reading, target.begin() as writing:
        for name, table in tables.items():
            rows = [
                dict(r._mapping) for r in reading.execute(sqlalchemy.text(f"SELECT * FROM {name}"))
            ]
            for row in rows:
                if name == "subscriptions":
                    row["renews_at"] = datetime.fromisoformat(row["renews_at"])
                if name == "invoices":
                    row["amount"] = Decimal(str(row["amount"]))
            writing.execute(table.insert(), rows)
    source.dispose()
    target.dispose()


def test_a_postgresql_database_reconciles_like_the_sqlite_file(tmp_path: Path) -> None:
    from postgresserver import postgres_server

    with postgres_server() as url:
        copy_to(url)
        assert_the_three_planted_drifts(demo_reconciled(url, tmp_path / "out"))
        query_mapping = write_mapping(
            tmp_path,
            "version: 1\nobjects:\n  invoice:\n    query: >-\n      SELECT stripe_invoice_id, "
            "amount * 100 AS cents FROM invoices\n    stripe_id: stripe_invoice_id\n"
            "    fields:\n      amount_due: {column: cents, convert: integer}\n",
        )
        out = tmp_path / "query"
        result = reconcile(
            "--source",
            url,
            "--mapping",
            str(query_mapping),
            "--stripe",
            str(DEMO),
            "--out",
            str(out),
        )
        assert result.exit_code == 1, result.output
        document = json.loads((out / "reconcile.json").read_text())
        assert [(c["field"], c["count"]) for c in document["causes"]] == [("amount_due", 1)]
        bad = write_mapping(
            tmp_path,
            "version: 1\nobjects:\n  invoice:\n    query: SELECT nope"
            " FROM invoices\n    stripe_id: nope\n",
        )
        assert "objects.invoice.query fails" in refused(tmp_path, url, bad)


# --- the mapping is untrusted input -----------------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
_TREES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "objects",
                    "invoice",
                    "table",
                    "query",
                    "stripe_id",
                    "key",
                    "fields",
                    "column",
                    "convert",
                    "values",
                    "exponent",
                    "timezone",
                    "amount_due",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(document=_TREES | st.text(max_size=200))
def test_any_mapping_is_read_or_refused_with_one_line_naming_the_file(document: Any) -> None:
    import tempfile

    import yaml

    from harness.errors import InputError
    from harness.reconcile.mapping import Mapping, read_mapping

    text = (
        document
        if isinstance(document, str)
        else yaml.safe_dump(
            {"version": 1, **(document if isinstance(document, dict) else {"objects": document})}
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mapping.yaml"
        path.write_text(text)
        try:
            assert isinstance(read_mapping(path), Mapping)
        except InputError as exc:
            message = str(exc)
            assert message.startswith(str(path)) and "\n" not in message


def test_a_last_known_state_is_as_a_retrieve_answers_it() -> None:
    from harness.model import Exchange, Request, Response
    from harness.reconcile.stripe_side import last_states

    customer = {"id": "cus_A", "object": "customer", "email": "a@example.org"}
    intent = {"id": "pi_A", "object": "payment_intent", "customer": customer, "status": "ok"}
    asked = Exchange(
        1,
        0.0,
        0.1,
        Request("POST", "/v1/payment_intents", "", [], "amount=1&expand[0]=customer"),
        Response(200, [], json.dumps(intent)),
    )
    kinds = frozenset({"customer", "payment_intent"})
    assert list(last_states(asked, kinds)) == [
        ("payment_intent", "pi_A", {**intent, "customer": "cus_A"}),
        ("customer", "cus_A", customer),
    ]
    listed = Exchange(
        2,
        0.0,
        0.1,
        Request("GET", "/v1/payment_intents", "expand[]=data.customer", [], ""),
        Response(200, [], json.dumps({"object": "list", "data": [intent]})),
    )
    assert next(iter(last_states(listed, kinds)))[2] == {**intent, "customer": "cus_A"}
    deleted = Exchange(
        3,
        0.0,
        0.1,
        Request("DELETE", "/v1/customers/cus_A", "", [], ""),
        Response(200, [], json.dumps({"id": "cus_A", "object": "customer", "deleted": True})),
    )
    assert list(last_states(deleted, kinds)) == [("customer", "cus_A", None)]
    refused = Exchange(
        4,
        0.0,
        0.1,
        Request("GET", "/v1/customers/cus_A", "", [], ""),
        Response(404, [], json.dumps({"error": {"type": "invalid_request_error"}})),
    )
    assert list(last_states(refused, kinds)) == []


def test_an_event_read_in_a_recording_is_no_state_of_the_object_it_is_about() -> None:
    """An event's `data.object` is its object as it was when the event happened, and
    sits under the key `object`, where other objects name their type: a page of events
    neither stops reading the recording nor counts as a later state of the customer."""
    from harness.model import Exchange, Request, Response
    from harness.reconcile.stripe_side import last_states

    then = {"id": "cus_A", "object": "customer", "email": "old@example.org"}
    event = {
        "id": "evt_A",
        "object": "event",
        "type": "customer.created",
        "data": {"object": then, "previous_attributes": {"email": None}},
    }
    listed = Exchange(
        1,
        0.0,
        0.1,
        Request("GET", "/v1/events", "limit=10", [], ""),
        Response(200, [], json.dumps({"object": "list", "data": [event], "has_more": False})),
    )
    assert list(last_states(listed, frozenset({"customer", "event"}))) == [
        ("event", "evt_A", event)
    ]
    assert list(last_states(listed, frozenset({"customer"}))) == []
