"""Maps merge: the map of a recording split anywhere into consecutive recordings, mapped
one by one and merged (in memory, or through map.json and `shadow map --update`), equals
the map of the whole recording, findings included. Hypothesis writes the recordings:
customers created and read, PaymentIntents confirmed, searches after writes, declined
and refused requests sent again, Idempotency-Keys reused, several accounts and API
versions, times that jump near and past every window and run out of order by up to
windows.SLACK."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.formats.recording import Header, RecordingWriter
from harness.map.build import default_settings, map_recordings, read_map
from harness.map.findings import find
from harness.map.flows import IDLE
from harness.map.model import POLL_WINDOW, RETRY_WINDOW, IntegrationMap
from harness.map.windows import SLACK
from harness.model import Exchange, Request, Response
from harness.stripe.guidelines import SEARCH_LAG_SECONDS

SHADOW = str(Path(sys.executable).parent / "shadow")
START = 1_795_435_200.0  # 2026-11-23 12:00 UTC

CUSTOMERS = ("cus_Merge0001AA", "cus_Merge0002BB", "cus_Merge0003CC")
INTENTS = ("pi_Merge0001AA", "pi_Merge0002BB")
ACCOUNTS = (None, None, "acct_Merge0001AA")
VERSIONS = ("2026-10-28.endive", "2026-10-28.endive", "2024-09-30.acacia", None)


@dataclass(frozen=True)
class Call:
    """One request of the generated traffic and the answer it got."""

    kind: str
    target: int
    status: int
    key: int | None  # which Idempotency-Key of a small pool, None: none
    account: int
    version: int


def _answer(call: Call, customer: str, intent: str) -> dict[str, Any]:
    if call.status >= 400:
        code = {402: "card_declined", 404: "resource_missing", 429: "rate_limit"}
        return {"error": {"type": "invalid_request_error", "code": code.get(call.status, "x")}}
    if call.kind in ("create_customer", "read_customer"):
        return {"id": customer, "object": "customer", "account_balance": 0}
    if call.kind in ("list_customers", "search_customers"):
        return {
            "object": "list" if call.kind == "list_customers" else "search_result",
            "data": [{"id": customer, "object": "customer"}],
            "has_more": True,
        }
    return {"id": intent, "object": "payment_intent", "customer": customer, "status": "succeeded"}


def _request(call: Call) -> tuple[str, str, str, str]:
    customer = CUSTOMERS[call.target % len(CUSTOMERS)]
    intent = INTENTS[call.target % len(INTENTS)]
    return {
        "create_customer": ("POST", "/v1/customers", "", "email=a%40b.c&account_balance=5"),
        "read_customer": ("GET", f"/v1/customers/{customer}", "", ""),
        "list_customers": ("GET", "/v1/customers", "limit=3", ""),
        "search_customers": ("GET", "/v1/customers/search", "query=email%3A%27a%27", ""),
        "create_intent": (
            "POST",
            "/v1/payment_intents",
            "",
            f"amount=100&currency=usd&customer={customer}&payment_method_types[]=card",
        ),
        "confirm_intent": ("POST", f"/v1/payment_intents/{intent}/confirm", "", ""),
    }[call.kind]


def exchange_of(seq: int, started: float, call: Call) -> Exchange:
    method, path, query, body = _request(call)
    customer = CUSTOMERS[call.target % len(CUSTOMERS)]
    intent = INTENTS[call.target % len(INTENTS)]
    headers = [("Authorization", "Bearer sk_test_<redacted:9dc0d88c>")]
    version = VERSIONS[call.version]
    if version:
        headers.append(("Stripe-Version", version))
    account = ACCOUNTS[call.account]
    if account:
        headers.append(("Stripe-Account", account))
    if call.key is not None:
        headers.append(("Idempotency-Key", f"key-{call.key}"))
    return Exchange(
        seq=seq,
        started=started,
        duration=0.05 + (seq % 7) * 0.1,
        request=Request(method, path, query, headers, body),
        response=Response(call.status, [], json.dumps(_answer(call, customer, intent))),
    )


calls = st.builds(
    Call,
    kind=st.sampled_from(
        [
            "create_customer",
            "read_customer",
            "list_customers",
            "search_customers",
            "create_intent",
            "confirm_intent",
        ]
    ),
    target=st.integers(0, 5),
    status=st.sampled_from([200, 200, 200, 400, 402, 404, 429]),
    key=st.one_of(st.none(), st.integers(0, 3)),
    account=st.integers(0, len(ACCOUNTS) - 1),
    version=st.integers(0, len(VERSIONS) - 1),
)
# Gaps between exchanges: mostly bursts, now and then near or past a window (Search,
# retries, polls, flows), once in a while past all of them.
WINDOWS = (SEARCH_LAG_SECONDS, RETRY_WINDOW, POLL_WINDOW, IDLE)
gaps = st.one_of(
    st.floats(0, 2),
    st.floats(0, 2),
    st.floats(20, 400),
    st.sampled_from(WINDOWS).flatmap(lambda w: st.floats(w - 150, w + 150)),
    st.floats(800, 3000),
)
# How far each exchange's start is moved back: out of order by up to SLACK (120 s), as
# far as the map allows.
jitters = st.one_of(st.just(0.0), st.floats(0, SLACK))


@st.composite
def traffic(draw: st.DrawFn) -> list[Exchange]:
    count = draw(st.integers(1, 70))
    moment = START
    exchanges = []
    for seq in range(count):
        moment += draw(gaps)
        started = moment - draw(jitters)
        exchanges.append(exchange_of(seq, round(started, 3), draw(calls)))
    return exchanges


def write(path: Path, exchanges: list[Exchange]) -> Path:
    header = Header(created="2026-11-23T12:00:00+00:00", redaction={"applied": True})
    with RecordingWriter(path, header) as writer:
        for exchange in exchanges:
            writer.write(exchange)
    return path


def state(found: IntegrationMap) -> dict[str, Any]:
    """What two maps of the same traffic share: the state and the findings."""
    return {
        "state": found.state_json(),
        "findings": [f.to_json() for f in find(found)],
    }


def map_of(*paths: Path) -> IntegrationMap:
    return map_recordings(paths, default_settings())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(traffic(), st.lists(st.integers(0, 70), max_size=3))
def test_a_recording_split_anywhere_maps_to_the_same_merged_map(
    exchanges: list[Exchange], cuts: list[int]
) -> None:
    points = sorted({min(cut, len(exchanges)) for cut in cuts})
    parts = [exchanges[a:b] for a, b in zip([0, *points], [*points, len(exchanges)], strict=True)]
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        whole = map_of(write(directory / "whole.jsonl", exchanges))
        files = [write(directory / f"part{i}.jsonl", part) for i, part in enumerate(parts)]
        # Mapped one by one and merged in memory...
        merged = map_of(files[0])
        for file in files[1:]:
            merged.merge(map_of(file))
        # ...through map.json, as `--update` does...
        stored = map_of(files[0])
        for file in files[1:]:
            again = IntegrationMap.from_state_json(
                json.loads(json.dumps(stored.state_json())), list(stored.sources)
            )
            again.merge(map_of(file))
            stored = again
        # ...or read in turn into one map.
        together = map_of(*files)
    expected = state(whole)
    assert state(merged) == expected
    assert state(stored) == expected
    assert state(together) == expected
    assert [s.exchanges for s in merged.sources] == [len(p) for p in parts]


READ = Call("read_customer", 0, 200, None, 0, 0)  # the same read every time
OTHER = Call("list_customers", 0, 200, None, 0, 0)  # part of no flow, no read of READ's


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        # The later recording's first exchange started before the earlier one's last: a
        # read 250 s after its twin across the cut is a poll, though 360 s after the later
        # recording's first start.
        ([(1000.0, OTHER), (1100.0, READ)], [(990.0, OTHER), (1350.0, READ)]),
        # The earlier recording's last exchange started after the later one's first: its
        # read of 1000 s is 290 s before the later read, though 310 s before its own end.
        ([(1000.0, READ), (1310.0, OTHER)], [(1250.0, READ)]),
        # A flow quiet for IDLE less 10 s goes on across the cut, though IDLE + 50 s
        # before the earlier recording's end.
        ([(1000.0, READ), (1050.0 + IDLE, OTHER)], [(990.0 + IDLE, READ)]),
        # A flow ended by time in the earlier recording: the later one's first exchange of
        # its customer begins a new one, though near the earlier recording's start.
        ([(1000.0, READ), (1001.0 + IDLE + SLACK, OTHER)], [(980.0 + IDLE + SLACK, READ)]),
    ],
)
def test_windows_hold_across_a_cut_out_of_time_order_by_up_to_the_slack(
    tmp_path: Path, earlier: list[tuple[float, Call]], later: list[tuple[float, Call]]
) -> None:
    """The edges of each window, hand-made: the cases the margins of windows.SLACK are for."""
    exchanges = [
        exchange_of(seq, START + moment, call)
        for seq, (moment, call) in enumerate([*earlier, *later])
    ]
    whole = map_of(write(tmp_path / "whole.jsonl", exchanges))
    merged = map_of(write(tmp_path / "a.jsonl", exchanges[: len(earlier)]))
    merged.merge(map_of(write(tmp_path / "b.jsonl", exchanges[len(earlier) :])))
    assert state(merged) == state(whole)


def test_shadow_map_update_equals_the_map_of_the_concatenation(tmp_path: Path) -> None:
    """A week of recordings, one a day: mapped day by day with --update, it is the map of
    the week's recording; only the list of sources differs."""
    week = []
    for day in range(7):
        for index in range(40):
            kind = ["create_customer", "read_customer", "create_intent", "search_customers"][
                index % 4
            ]
            call = Call(kind, index % 5, 402 if index % 13 == 0 else 200, index % 3, 0, day % 3 + 1)
            started = START + day * 86_400 + index * 20.0
            week.append(exchange_of(len(week), started, call))
    days = [write(tmp_path / f"day{d}.jsonl", week[d * 40 : (d + 1) * 40]) for d in range(7)]
    whole = write(tmp_path / "week.jsonl", week)

    def shadow(*args: str) -> None:
        done = subprocess.run([SHADOW, "map", *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr

    shadow(str(whole), "--out", str(tmp_path / "week"))
    shadow(str(days[0]), "--out", str(tmp_path / "daily"))
    for day in days[1:]:
        shadow("--update", str(tmp_path / "daily" / "map.json"), str(day))
    week_map = json.loads((tmp_path / "week" / "map.json").read_text())
    daily_map = json.loads((tmp_path / "daily" / "map.json").read_text())
    assert [s["path"] for s in daily_map.pop("sources")] == [str(d) for d in days]
    assert [s["path"] for s in week_map.pop("sources")] == [str(whole)]
    for document in (week_map, daily_map):
        document.pop("generated")
    assert daily_map == week_map
    assert read_map(tmp_path / "daily" / "map.json").exchanges == len(week)
    assert {f["rule"] for f in daily_map["findings"]} >= {
        "deprecated-api",
        "api-version-unpinned-or-mixed",
        "payment-method-types",
    }
