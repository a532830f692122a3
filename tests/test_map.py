"""The integration map: each finding on traffic built to show it (and on traffic that
must not), the sections read from the demo recording, the latency sketch, the page's
safety, and `shadow map`'s files, options and errors."""

from __future__ import annotations

import html
import json
import math
import random
import re
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import InputError
from harness.formats.recording import Header, RecordingWriter
from harness.map.build import (
    add_exchanges,
    default_settings,
    map_recordings,
    parse_since,
    read_map,
)
from harness.map.findings import FINDINGS, Finding, find, finding
from harness.map.model import IntegrationMap, Settings
from harness.map.sketch import PRECISION, LatencySketch
from harness.model import Exchange, Request, Response

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "recordings" / "demo.jsonl"
SCHEMA = json.loads((ROOT / "harness" / "schemas" / "map-v1.schema.json").read_text())
SHADOW = str(Path(sys.executable).parent / "shadow")
START = 1_795_435_200.0  # 2026-11-23 12:00 UTC
TEST_KEY = "Bearer sk_test_<redacted:9dc0d88c>"
LIVE_KEY = "Bearer sk_live_<redacted:1f2e3d4c>"
PINNED = "2026-10-28.endive"


def exchange(
    seq: int,
    method: str,
    path: str,
    *,
    query: str = "",
    body: str = "",
    status: int = 200,
    answer: dict[str, Any] | None = None,
    headers: Iterable[tuple[str, str]] = (),
    started: float | None = None,
    key: str | None = "auto",
    version: str | None = PINNED,
    authorization: str = TEST_KEY,
    answer_headers: Iterable[tuple[str, str]] = (),
) -> Exchange:
    """One exchange as an SDK would send it: a key, a pinned version, a key on POSTs."""
    sent = [("Authorization", authorization), *headers]
    if version is not None:
        sent.append(("Stripe-Version", version))
    if method == "POST" and key is not None:
        sent.append(("Idempotency-Key", f"key-{seq}" if key == "auto" else key))
    if answer is None:
        answer = {"id": f"obj_{seq:08d}", "object": "thing"} if status < 400 else {"error": {}}
    return Exchange(
        seq=seq,
        started=START + seq if started is None else started,
        duration=0.2,
        request=Request(method, path, query, sent, body),
        response=Response(status, list(answer_headers), json.dumps(answer)),
    )


def map_of(exchanges: Iterable[Exchange], **options: Any) -> IntegrationMap:
    found = IntegrationMap(Settings(**options))
    add_exchanges(found, exchanges)
    found.settle()
    return found


def findings_of(exchanges: Iterable[Exchange], rule: str) -> list[Finding]:
    return [f for f in find(map_of(exchanges)) if f.rule == rule]


def write(path: Path, exchanges: Iterable[Exchange]) -> Path:
    header = Header(created="2026-11-23T12:00:00+00:00", redaction={"applied": True})
    with RecordingWriter(path, header) as writer:
        for item in exchanges:
            writer.write(item)
    return path


def shadow(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([SHADOW, *args], capture_output=True, text=True, check=False)
    assert done.returncode == code, done.stdout + done.stderr
    return done


# --- findings, one by one ------------------------------------------------------------------


def test_a_creating_post_without_an_idempotency_key_is_found_money_first() -> None:
    customer = "cus_Find0001AA"
    found = findings_of(
        [
            exchange(0, "POST", "/v1/customers", key=None),
            exchange(1, "POST", "/v1/customers"),
            exchange(2, "POST", "/v1/payment_intents", key=None),
            exchange(3, "POST", f"/v1/customers/{customer}", key=None),  # an update
            exchange(4, "GET", f"/v1/customers/{customer}", key=None),
        ],
        "idempotency-key-missing",
    )
    assert [(f.subject, f.severity, f.exchanges) for f in found] == [
        ("POST /v1/payment_intents", "high", 1),
        ("POST /v1/customers", "medium", 1),
    ]
    assert found[1].detail.startswith("1 POST of 2 (50 %) sent no Idempotency-Key")
    assert [e.seq for e in found[1].examples] == [0]
    assert found[0].doc == "https://docs.stripe.com/api/idempotent_requests"


def test_a_retry_of_a_4xx_that_cannot_succeed_is_found_and_a_retry_that_can_is_not() -> None:
    def sent(seq: int, status: int, body: str, at: float, **answer: Any) -> Exchange:
        error = {"error": {"type": "invalid_request_error", **answer}}
        return exchange(
            seq, "POST", "/v1/refunds", body=body, status=status, answer=error, started=START + at
        )

    found = findings_of(
        [
            sent(0, 400, "charge=ch_1", 0),
            sent(1, 400, "charge=ch_1", 5),  # the same refused request again: hopeless
            sent(2, 429, "charge=ch_2", 10),
            sent(3, 429, "charge=ch_2", 11),  # a rate limit: worth retrying
            sent(4, 402, "charge=ch_3", 20, code="processing_error"),
            sent(5, 402, "charge=ch_3", 21, code="processing_error"),  # a transient decline
            sent(6, 404, "charge=ch_4", 30),
            sent(7, 404, "charge=ch_4", 30 + 600),  # too long after to be a retry
        ],
        "retry-of-hopeless-4xx",
    )
    assert [(f.subject, f.exchanges, [e.seq for e in f.examples]) for f in found] == [
        ("POST /v1/refunds", 1, [1])
    ]
    should_not = exchange(
        0,
        "POST",
        "/v1/refunds",
        body="x=1",
        status=409,
        answer_headers=[("Stripe-Should-Retry", "false")],
    )
    again = exchange(1, "POST", "/v1/refunds", body="x=1", status=200)
    assert findings_of([should_not, again], "retry-of-hopeless-4xx")[0].exchanges == 1


def test_deprecated_apis_are_found_with_their_replacement_and_page() -> None:
    found = findings_of(
        [
            exchange(0, "POST", "/v1/charges", body="amount=100&currency=usd"),
            exchange(1, "POST", "/v1/tokens", body="card[number]=%3Credacted%3Acard%3A4242%3E"),
            exchange(2, "GET", "/v1/plans/gold"),
            exchange(3, "POST", "/v1/customers", body="account_balance=-500"),
            exchange(4, "POST", "/v1/customers", body="balance=-500"),
            exchange(5, "GET", "/v1/charges"),  # reading charges is not deprecated
        ],
        "deprecated-api",
    )
    by_subject = {f.subject: f for f in found}
    assert set(by_subject) == {
        "Charges API (creating charges directly)",
        "Tokens API for cards",
        "Plans API",
        "customer `account_balance`",
    }
    balance = by_subject["customer `account_balance`"]
    assert balance.exchanges == 1 and [e.seq for e in balance.examples] == [3]
    assert "use `balance`" in balance.detail
    assert (
        by_subject["Plans API"].doc == "https://docs.stripe.com/billing/migration/migrating-prices"
    )


def test_unpinned_and_mixed_api_versions_are_found() -> None:
    consistent = [exchange(i, "GET", "/v1/balance") for i in range(3)]
    assert findings_of(consistent, "api-version-unpinned-or-mixed") == []
    found = findings_of(
        [
            *consistent,
            exchange(3, "GET", "/v1/balance", version=None),
            exchange(4, "GET", "/v1/balance", version="2024-09-30.acacia"),
        ],
        "api-version-unpinned-or-mixed",
    )
    assert [(f.subject, f.severity, f.exchanges) for f in found] == [
        ("several Stripe-Versions", "high", 4),
        ("no Stripe-Version", "medium", 1),
    ]
    assert "2024-09-30.acacia (1), 2026-10-28.endive (3)" in found[0].detail


def test_a_read_polled_again_and_again_is_found_where_an_event_says_when() -> None:
    intent = "pi_Find0001AA"
    polled = [
        exchange(i, "GET", f"/v1/payment_intents/{intent}", started=START + 10 * i)
        for i in range(8)
    ]
    found = findings_of(polled, "polling-instead-of-events")
    assert [(f.subject, f.exchanges) for f in found] == [
        ("GET /v1/payment_intents/{payment_intent}", 7)
    ]
    # No event tells when a balance changes; reads far apart are no poll.
    balance = [exchange(i, "GET", "/v1/balance", started=START + 10 * i) for i in range(8)]
    apart = [
        exchange(i, "GET", f"/v1/payment_intents/{intent}", started=START + 400 * i)
        for i in range(8)
    ]
    assert findings_of(balance + apart, "polling-instead-of-events") == []


def test_expand_deeper_than_four_levels_is_found() -> None:
    deep = "expand[]=data.customer.invoice_settings.default_payment_method.customer"
    found = findings_of(
        [
            exchange(0, "GET", "/v1/invoices", query=deep),
            exchange(1, "GET", "/v1/invoices", query="expand[]=data.customer.default_source"),
        ],
        "expand-too-deep",
    )
    assert [(f.subject, f.severity, f.exchanges) for f in found] == [
        ("GET /v1/invoices", "high", 1)
    ]
    assert "data.customer.invoice_settings.default_payment_method.customer" in found[0].detail


def test_a_search_right_after_a_write_is_found() -> None:
    search = ("GET", "/v1/customers/search")
    found = findings_of(
        [
            exchange(0, "POST", "/v1/customers", started=START),
            exchange(1, *search, query="query=email%3A%27a%40b.c%27", started=START + 10),
            exchange(2, *search, query="query=email%3A%27a%40b.c%27", started=START + 200),
            exchange(3, "GET", "/v1/charges/search", query="query=x", started=START + 205),
        ],
        "search-after-write",
    )
    assert [(f.subject, f.exchanges, [e.seq for e in f.examples]) for f in found] == [
        ("GET /v1/customers/search", 1, [1])
    ]


def test_rate_headroom_compares_the_busiest_second_with_each_mode_limit() -> None:
    def burst(count: int, authorization: str, path: str = "/v1/balance") -> list[Exchange]:
        return [
            exchange(i, "GET", path, authorization=authorization, started=START + 0.01 * i)
            for i in range(count)
        ]

    over = findings_of(burst(30, TEST_KEY), "rate-headroom")
    assert [(f.subject, f.severity, f.exchanges) for f in over] == [("test mode", "high", 30)]
    assert "120 % of the limit of 25" in over[0].detail and over[0].examples[0].seq == 0
    assert [f.severity for f in findings_of(burst(15, TEST_KEY), "rate-headroom")] == ["low"]
    assert findings_of(burst(12, TEST_KEY), "rate-headroom") == []
    assert findings_of(burst(30, LIVE_KEY), "rate-headroom") == []
    live = findings_of(burst(60, LIVE_KEY), "rate-headroom")
    assert [(f.subject, f.severity) for f in live] == [("live mode", "low")]
    searches = findings_of(burst(21, LIVE_KEY, "/v1/customers/search"), "rate-headroom")
    assert [(f.subject, f.severity) for f in searches] == [("Search, live mode", "high")]


def test_updates_of_one_payment_intent_per_hour_count_against_its_limit() -> None:
    updates = [
        exchange(
            i,
            "POST",
            "/v1/payment_intents/pi_Find0001AA",
            body=f"metadata[n]={i}",
            started=START + 3 * i,
            authorization=LIVE_KEY,
        )
        for i in range(600)
    ]
    found = [f for f in findings_of(updates, "rate-headroom") if "PaymentIntent" in f.subject]
    assert [(f.severity, f.exchanges) for f in found] == [("low", 600)]
    assert "600 updates of pi_Find0001AA in the hour" in found[0].detail


def test_a_secret_in_a_query_string_is_found_without_showing_it() -> None:
    found = findings_of(
        [
            exchange(
                0,
                "GET",
                "/v1/payment_intents/pi_Find0001AA",
                query="client_secret=pi_Find0001AA_secret_%3Credacted%3E",
            ),
            exchange(1, "GET", "/v1/customers", query="api_key=abc"),
            exchange(2, "GET", "/v1/customers", query="limit=3"),
        ],
        "secret-in-query",
    )
    assert [(f.subject, f.exchanges) for f in found] == [
        ("GET /v1/customers", 1),
        ("GET /v1/payment_intents/{payment_intent}", 1),
    ]


def test_payment_method_types_is_found_where_endive_refuses_it() -> None:
    found = findings_of(
        [
            exchange(
                0,
                "POST",
                "/v1/payment_intents",
                body="amount=100&currency=usd&payment_method_types[]=card",
            ),
            exchange(
                1, "POST", "/v1/setup_intents/seti_Find0001AA", body="payment_method_types[0]=card"
            ),
            exchange(2, "POST", "/v1/payment_intents", body="amount=100&currency=usd"),
            exchange(3, "POST", "/v1/payment_links", body="payment_method_types[]=card"),
        ],
        "payment-method-types",
    )
    assert [(f.subject, f.severity, f.exchanges) for f in found] == [
        ("POST /v1/payment_intents", "high", 1),
        ("POST /v1/setup_intents/{setup_intent}", "high", 1),
    ]


def test_findings_register_once_with_a_rationale_and_a_page() -> None:
    assert len(FINDINGS) >= 10
    for rule in FINDINGS.values():
        assert rule.rationale and rule.doc.startswith("https://docs.stripe.com/")
    with pytest.raises(ValueError, match="registered already"):
        finding("rate-headroom", title="again", doc="https://docs.stripe.com/x")(lambda m: [])

    def undocumented(found: IntegrationMap) -> list[Finding]:
        return []

    with pytest.raises(ValueError, match="docstring is its rationale"):
        finding("undocumented", title="x", doc="https://docs.stripe.com/x")(undocumented)
    assert "undocumented" not in FINDINGS


def test_docs_list_every_finding_with_its_page() -> None:
    text = (ROOT / "docs" / "map.md").read_text()
    for rule in FINDINGS.values():
        assert f"`{rule.name}`" in text, rule.name
        assert rule.doc in text, rule.doc


# --- what the map reads ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_map() -> IntegrationMap:
    return map_recordings([DEMO], default_settings())


def test_the_demo_map_holds_endpoints_objects_flows_versions_and_clients(
    demo_map: IntegrationMap,
) -> None:
    assert demo_map.exchanges == 85 and len(demo_map.sources) == 1
    intents = demo_map.endpoints["POST /v1/payment_intents"]
    assert intents.calls == 8 and intents.posts == intents.with_key == 8
    assert intents.statuses == {"200": 6, "402": 1, "400": 1}
    assert intents.errors == {"invalid_request_error/card_declined": 1, "invalid_request_error": 1}
    assert intents.parameters["amount"] == 8 and intents.parameters["capture_method"] == 1
    assert "metadata.order_id" not in intents.parameters  # a customer's own keys
    assert demo_map.objects["customer"]["created"] == 6
    assert demo_map.objects["customer"]["deleted"] == 1
    assert demo_map.objects["payment_intent"]["updated"] == 3
    customers = demo_map.endpoints["GET /v1/customers"]
    assert (customers.list_reads, customers.cursor_pages) == (3, 2)
    assert dict(customers.limits) == {"2": 3}
    expanded = demo_map.endpoints["GET /v1/payment_intents/{payment_intent}"].expand
    assert dict(expanded) == {"latest_charge": 1, "customer": 1}
    assert {v: t.count for v, t in demo_map.versions.items()} == {PINNED: 85}
    assert {a: t.count for a, t in demo_map.accounts.items()} == {"": 85}
    assert list(demo_map.clients) == ["python 3.11.7, stripe-python 16.1.0 (requests)"]
    shapes = demo_map.flow_shapes()
    onboarding = (
        "POST /v1/customers → POST /v1/payment_methods/{payment_method}/attach → "
        "POST /v1/customers/{customer}"
    )
    assert any(shape.startswith(onboarding) for shape in shapes)
    p50 = intents.latency.quantile(0.5)
    assert p50 is not None and 1 < p50 < 100


def test_the_demo_maps_top_findings_are_its_rate_and_the_plans_api(
    demo_map: IntegrationMap,
) -> None:
    found = find(demo_map)
    assert [(f.rule, f.severity, f.subject) for f in found] == [
        ("rate-headroom", "high", "test mode"),
        ("deprecated-api", "medium", "Plans API"),
    ]
    assert found[1].exchanges == 3 and [e.seq for e in found[1].examples] == [2, 3, 5]


def test_the_upgrade_section_is_the_upgrade_checks_for_the_newest_version(
    tmp_path: Path,
) -> None:
    """Traffic under acacia, checked against the newest catalogue, as `shadow
    upgrade-check --json` does."""
    acacia = "2024-09-30.acacia"
    recording = write(
        tmp_path / "old.jsonl",
        [
            exchange(
                0,
                "GET",
                "/v1/invoices/in_Find0001AA",
                version=acacia,
                answer={
                    "id": "in_Find0001AA",
                    "object": "invoice",
                    "subscription": "sub_Find0001AA",
                    "paid": True,
                },
            ),
            exchange(
                1,
                "POST",
                "/v1/payment_intents",
                version=acacia,
                body="amount=1&currency=usd&payment_method_types[]=card",
            ),
        ],
    )
    found = map_recordings([recording], default_settings())
    newest = found.settings.upgrade_to
    assert newest is not None
    checked = json.loads(shadow("upgrade-check", str(recording), "--to", newest, "--json").stdout)
    subjects = {(f["finding"], f["subject"]) for f in found.upgrade["findings"]}
    assert subjects == {(f["finding"], f["subject"]) for f in checked["findings"]}
    assert ("field", "invoice.subscription") in subjects
    assert found.upgrade["exchanges"] == checked["exchanges"] == 2


def test_since_keeps_the_exchanges_that_started_then_or_later(tmp_path: Path) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert parse_since("2026-11-23", now) == START - 12 * 3600
    assert parse_since("2026-11-23T12:00Z", now) == START
    assert parse_since("2026-11-23T13:00+01:00", now) == START
    assert parse_since("7d", now) == now.timestamp() - 7 * 86_400
    assert parse_since("90m", now) == now.timestamp() - 5400
    with pytest.raises(InputError, match="--since 'last week': expected a date"):
        parse_since("last week", now)
    recording = write(tmp_path / "r.jsonl", [exchange(i, "GET", "/v1/balance") for i in range(10)])
    later = map_recordings([recording], default_settings(since=START + 6))
    assert later.exchanges == 4 and later.sources[0].exchanges == 4
    assert [e.seq for e in later.endpoints["GET /v1/balance"].calls_seen.examples] == [6, 7, 8]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.00001, 1000.0), min_size=1, max_size=300), st.floats(0.01, 1.0))
def test_a_sketchs_percentiles_are_within_its_precision_and_merge_exactly(
    seconds: list[float], q: float
) -> None:
    whole, left, right = LatencySketch(), LatencySketch(), LatencySketch()
    cut = len(seconds) // 2
    for index, value in enumerate(seconds):
        whole.add(value)
        (left if index < cut else right).add(value)
    left.merge(right)
    assert left == whole
    ranked = sorted(seconds)
    exact = ranked[max(1, math.ceil(q * len(ranked))) - 1] * 1000
    estimate = whole.quantile(q)
    assert estimate is not None
    if exact > 0.01:
        assert abs(estimate - exact) <= PRECISION * exact + 1e-3


# --- the files ---------------------------------------------------------------------------


def test_shadow_map_writes_a_map_json_the_schema_describes_and_a_page(tmp_path: Path) -> None:
    out = tmp_path / "demo-map"
    done = shadow("map", str(DEMO), "--out", str(out))
    assert "85 exchanges from 1 recording" in done.stdout
    assert "Little rate-limit headroom: test mode" in done.stdout
    assert f"wrote {out}/: map.json, index.html" in done.stdout
    document = json.loads((out / "map.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["format"] == "stripe-shadow-map" and document["version"] == 1
    assert [f["rule"] for f in document["findings"]] == ["rate-headroom", "deprecated-api"]
    assert document["endpoints"]["POST /v1/customers"]["peak_per_second"] >= 1
    page = (out / "index.html").read_text()
    assert "<script" not in page
    policy = html.unescape(page)
    assert "default-src 'none'" in policy and "script-src 'none'" in policy
    assert re.search(r"""(src|href)=["']?(https?:)?//(?!docs\.stripe\.com)""", page) is None
    printed = json.loads(shadow("map", str(DEMO), "--out", str(out), "--json").stdout)
    assert printed["endpoints"] == document["endpoints"]


def test_shadow_map_defaults_to_maps_named_after_the_first_recording(tmp_path: Path) -> None:
    recording = write(tmp_path / "week-47.jsonl.gz", [exchange(0, "GET", "/v1/balance")])
    subprocess.run([SHADOW, "map", str(recording)], cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / "maps" / "week-47" / "map.json").is_file()
    assert (tmp_path / "maps" / "week-47" / "index.html").is_file()


def test_no_secret_reaches_the_map_or_its_page(tmp_path: Path) -> None:
    """A recording made without redaction: a live key, a card number and a client secret
    in a query string, echoed in an answer; the map shows where, never what."""
    live = "sk_live_" + "51HqLyjWDarjtT1zdp7dcXYZ"
    card = "4000056655665556"
    secret = "pi_Find0001AA_secret_" + "Zx9yW8vU7tS6"
    recording = write(
        tmp_path / "raw.jsonl",
        [
            exchange(
                0,
                "GET",
                "/v1/payment_intents/pi_Find0001AA",
                query=f"client_secret={secret}&key={live}",
                headers=[("User-Agent", f"curl {live}"), ("Stripe-Account", live)],
                answer={"id": "pi_Find0001AA", "object": "payment_intent", "client_secret": secret},
            ),
            exchange(
                1, "POST", "/v1/tokens", body=f"card[number]={card}&card[cvc]=123", version=live
            ),
        ],
    )
    out = tmp_path / "map"
    shadow("map", str(recording), "--out", str(out))
    for name in ("map.json", "index.html"):
        text = (out / name).read_text()
        assert live not in text and card not in text and secret not in text
    document = json.loads((out / "map.json").read_text())
    assert {f["rule"] for f in document["findings"]} >= {"secret-in-query", "deprecated-api"}
    assert "sk_live_<redacted:" in html.unescape((out / "index.html").read_text())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "map.json:1: not valid JSON"),
        ('{"format": "stripe-shadow-recording"}', "format: expected 'stripe-shadow-map'"),
        ('{"format": "stripe-shadow-map", "version": 9}', "newer than this stripe-shadow"),
        ('{"format": "stripe-shadow-map", "version": 1, "sources": []}', "missing field"),
        ('["a list"]', "format: expected 'stripe-shadow-map', got 'list'"),
    ],
)
def test_a_bad_map_json_is_refused_with_one_line(
    tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "map.json"
    bad.write_text(content)
    done = shadow("map", "--update", str(bad), str(DEMO), code=2)
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_bad_input_to_shadow_map_exits_2_with_one_line(tmp_path: Path) -> None:
    cases = [
        (["map"], "give at least one RECORDING"),
        (["map", str(tmp_path / "missing.jsonl")], "missing.jsonl: no such file"),
        (["map", str(DEMO), "--since", "yesterday-ish"], "--since 'yesterday-ish'"),
        (["map", "--update", str(tmp_path / "none.json"), str(DEMO)], "none.json: no such map"),
    ]
    for args, message in cases:
        done = shadow(*args, code=2)
        assert message in done.stderr and "Traceback" not in done.stderr
    shadow("map", str(DEMO), "--out", str(tmp_path / "m"), "--since", "2026-11-01")
    done = shadow(
        "map",
        "--update",
        str(tmp_path / "m" / "map.json"),
        str(DEMO),
        "--since",
        "2026-11-02",
        code=2,
    )
    assert "an update keeps the map's own" in done.stderr
    (tmp_path / "file").write_text("x")
    done = shadow("map", str(DEMO), "--out", str(tmp_path / "file"), code=2)
    assert "is a file" in done.stderr


def test_a_map_read_back_merges_like_the_one_written(tmp_path: Path) -> None:
    records = [
        exchange(i, "GET", "/v1/balance", started=START + random.Random(i).random())
        for i in range(5)
    ]
    out = tmp_path / "m"
    shadow("map", str(write(tmp_path / "r.jsonl", records)), "--out", str(out))
    again = read_map(out / "map.json")
    assert (
        again.state_json()
        == map_recordings([tmp_path / "r.jsonl"], default_settings()).state_json()
    )
