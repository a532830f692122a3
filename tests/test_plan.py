"""The journey planner and the barriers it puts between journeys, on hand-made exchanges."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from replayfixtures import exchange, recording

from harness.cli import main
from harness.errors import RecordingError
from harness.model import Exchange
from harness.replay.gates import AFTER, CATALOGUED, INVOLVED, GateLayout, Gates
from harness.replay.plan import (
    PLAIN,
    READ_BARRIER,
    WRITE,
    Plan,
    footprint,
    plan_journeys,
    plan_recording,
)
from harness.stripe import read_collections, read_effect, resource_of, write_effect

REPO = Path(__file__).resolve().parent.parent


def journeys_of(plan: Plan) -> list[list[int]]:
    return plan.journey_seqs()


def customer_flow(start: int, customer: str, method: str, intent: str) -> list[Exchange]:
    return [
        exchange(
            start,
            "POST",
            "/v1/customers",
            form="email=a%40b.c",
            answer={"id": customer, "object": "customer"},
        ),
        exchange(
            start + 1,
            "POST",
            "/v1/payment_methods",
            form="type=card&card[number]=<redacted:card:4242>",
            answer={"id": method, "object": "payment_method"},
        ),
        exchange(
            start + 2,
            "POST",
            f"/v1/payment_methods/{method}/attach",
            form=f"customer={customer}",
            answer={"id": method, "object": "payment_method", "customer": customer},
        ),
        exchange(
            start + 3,
            "POST",
            "/v1/payment_intents",
            form=f"amount=100&currency=usd&customer={customer}&payment_method={method}&confirm=true",
            answer={
                "id": intent,
                "object": "payment_intent",
                "customer": customer,
                "latest_charge": "ch_" + intent[3:],
            },
        ),
    ]


def test_two_customers_make_two_journeys_in_recorded_order() -> None:
    first = customer_flow(0, "cus_AAAAAAAA01", "pm_AAAAAAAA01", "pi_AAAAAAAA01")
    second = customer_flow(4, "cus_BBBBBBBB02", "pm_BBBBBBBB02", "pi_BBBBBBBB02")
    interleaved = [
        first[0],
        second[0],
        first[1],
        second[1],
        first[2],
        second[2],
        first[3],
        second[3],
    ]
    plan = plan_journeys(interleaved)
    assert journeys_of(plan) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert plan.largest == (0, 4)
    assert plan.parallelism == 2.0
    assert list(plan.roles) == [WRITE] * 8


def test_a_charge_found_later_joins_the_journey_that_created_it() -> None:
    flow = customer_flow(0, "cus_AAAAAAAA01", "pm_AAAAAAAA01", "pi_AAAAAAAA01")
    refund = exchange(
        4, "POST", "/v1/refunds", form="charge=ch_AAAAAAAA01", answer={"id": "re_AAAAAAAA01"}
    )
    plan = plan_journeys([*flow, refund])
    assert journeys_of(plan) == [[0, 1, 2, 3, 4]]


def test_an_id_less_read_is_a_barrier_of_its_own_and_joins_nothing() -> None:
    everything = {"object": "list", "data": [{"id": "cus_AAAAAAAA01"}, {"id": "cus_BBBBBBBB02"}]}
    exchanges = [
        exchange(0, "POST", "/v1/customers", answer={"id": "cus_AAAAAAAA01"}),
        exchange(1, "POST", "/v1/customers", answer={"id": "cus_BBBBBBBB02"}),
        exchange(2, "GET", "/v1/customers", query="limit=10", answer=everything),
        exchange(
            3, "GET", "/v1/customers", query="starting_after=cus_AAAAAAAA01", answer=everything
        ),
        exchange(4, "GET", "/v1/balance", answer={"object": "balance"}),
        exchange(5, "GET", "/v1/customers/cus_AAAAAAAA01", answer={"id": "cus_AAAAAAAA01"}),
    ]
    plan = plan_journeys(exchanges)
    assert journeys_of(plan) == [[0, 5], [1], [2], [3], [4]]
    # Reading the balance makes localstripe emit an event: it changes what events show.
    balance = READ_BARRIER | WRITE
    assert list(plan.roles) == [WRITE, WRITE, READ_BARRIER, READ_BARRIER, balance, PLAIN]
    assert plan.barriers == 3


def test_catalogue_ids_order_journeys_instead_of_joining_them() -> None:
    exchanges = [
        exchange(
            0,
            "POST",
            "/v1/products",
            form="name=Basic",
            answer={"id": "prod_AAAAAAAA01", "object": "product"},
        ),
        exchange(
            1,
            "POST",
            "/v1/plans",
            form="id=gold&product=prod_AAAAAAAA01&amount=100",
            answer={"id": "gold", "object": "plan", "product": "prod_AAAAAAAA01"},
        ),
        exchange(2, "POST", "/v1/customers", answer={"id": "cus_AAAAAAAA01"}),
        exchange(
            3,
            "POST",
            "/v1/subscriptions",
            form="customer=cus_AAAAAAAA01&items[0][plan]=gold",
            answer={
                "id": "sub_AAAAAAAA01",
                "customer": "cus_AAAAAAAA01",
                "plan": {"id": "gold", "object": "plan", "product": "prod_AAAAAAAA01"},
            },
        ),
        exchange(4, "POST", "/v1/customers", answer={"id": "cus_BBBBBBBB02"}),
        exchange(
            5,
            "POST",
            "/v1/subscriptions",
            form="customer=cus_BBBBBBBB02&items%5B0%5D%5Bplan%5D=gold",
            answer={"id": "sub_BBBBBBBB02", "customer": "cus_BBBBBBBB02"},
        ),
        exchange(
            6,
            "POST",
            "/v1/plans/gold",
            form="nickname=Gold",
            answer={"id": "gold", "object": "plan"},
        ),
    ]
    plan = plan_journeys(exchanges)
    assert journeys_of(plan) == [[0], [1, 6], [2, 3], [4, 5]]
    gold = plan.catalogue.index("gold")
    product = plan.catalogue.index("prod_AAAAAAAA01")
    assert plan.acts == {0: (product,), 1: (gold,), 6: (gold,)}
    assert plan.refers[1] == (product,)
    assert gold in plan.refers[3] and gold in plan.refers[5]


def test_a_user_chosen_id_counts_only_once_an_answer_has_named_it() -> None:
    before = exchange(
        0,
        "POST",
        "/v1/subscriptions",
        form="customer=cus_AAAAAAAA01&plan=gold",
        answer={"id": "sub_AAAAAAAA01"},
    )
    assert "gold" not in footprint(before, set()).refers
    assert footprint(before, {"gold"}).refers == ("gold",)


def test_ids_anywhere_in_a_request_join() -> None:
    exchanges = [
        exchange(0, "POST", "/v1/accounts", answer={"id": "acct_AAAAAAAA01", "object": "account"}),
        exchange(
            1,
            "POST",
            "/v1/customers",
            headers=[("Stripe-Account", "acct_AAAAAAAA01")],
            answer={"id": "cus_CCCCCCCC03"},
        ),
        exchange(
            2,
            "POST",
            "/v2/core/things",
            json_body={"data": {"refs": [{"customer": "cus_CCCCCCCC03"}]}},
            answer={"id": "thing_1"},
        ),
        exchange(
            3,
            "GET",
            "/v1/invoices",
            query="customer=cus_CCCCCCCC03&expand%5B%5D=data.charge",
            answer={"object": "list", "data": [{"id": "in_DDDDDDDD04"}]},
        ),
        exchange(4, "POST", "/v1/invoices/in_DDDDDDDD04/pay", answer={"id": "in_DDDDDDDD04"}),
    ]
    assert journeys_of(plan_journeys(exchanges)) == [[0, 1, 2, 3, 4]]


def test_error_codes_that_look_like_ids_join_nothing() -> None:
    declined = {
        "error": {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline"}
    }
    exchanges = [
        exchange(
            0,
            "POST",
            "/v1/payment_methods/pm_AAAAAAAA01/attach",
            form="customer=cus_AAAAAAAA01",
            answer=declined,
            status=402,
        ),
        exchange(
            1,
            "POST",
            "/v1/payment_methods/pm_BBBBBBBB02/attach",
            form="customer=cus_BBBBBBBB02",
            answer=declined,
            status=402,
        ),
    ]
    assert journeys_of(plan_journeys(exchanges)) == [[0], [1]]


def test_test_tokens_and_account_wide_configuration_join_nothing() -> None:
    exchanges = [
        exchange(
            0,
            "POST",
            "/v1/payment_intents",
            form="payment_method=pm_card_visa&source=tok_chargeDeclined",
            answer={
                "id": "pi_AAAAAAAA01",
                "payment_method_configuration_details": {"id": "pmc_ZZZZZZZZ99"},
            },
        ),
        exchange(
            1,
            "POST",
            "/v1/payment_intents",
            form="payment_method=pm_card_visa&source=tok_chargeDeclined",
            answer={
                "id": "pi_BBBBBBBB02",
                "payment_method_configuration_details": {"id": "pmc_ZZZZZZZZ99"},
            },
        ),
    ]
    plan = plan_journeys(exchanges)
    assert journeys_of(plan) == [[0], [1]]
    assert plan.unproduced == 0


def test_ids_never_produced_are_counted() -> None:
    plan = plan_journeys(
        [exchange(0, "GET", "/v1/customers/cus_NOTHERE0001", status=404, answer={})]
    )
    assert plan.unproduced == 1 and plan.unproduced_examples == ["cus_NOTHERE0001"]
    seeded = plan_journeys(
        [exchange(0, "GET", "/v1/customers/cus_NOTHERE0001")], {"cus_NOTHERE0001"}
    )
    assert seeded.unproduced == 0


def page(*ids: str, more: bool = True) -> dict[str, object]:
    return {"object": "list", "has_more": more, "data": [{"id": value} for value in ids]}


def test_ids_learnt_from_a_list_order_their_later_uses_and_count_as_listed() -> None:
    exchanges = [
        exchange(0, "POST", "/v1/customers", answer={"id": "cus_AAAAAAAA01"}),
        exchange(1, "GET", "/v1/events", query="limit=2", answer=page("evt_AAAAAAAA01")),
        exchange(2, "POST", "/v1/customers", answer={"id": "cus_BBBBBBBB02"}),
        exchange(
            3,
            "GET",
            "/v1/events",
            query="limit=2&starting_after=evt_AAAAAAAA01",
            answer=page("evt_BBBBBBBB02", more=False),
        ),
        exchange(4, "GET", "/v1/events/evt_BBBBBBBB02", answer={"id": "evt_BBBBBBBB02"}),
    ]
    plan = plan_journeys(exchanges)
    assert plan.unproduced == 0  # every event was listed before it was used
    assert dict(plan.after) == {3: (1,), 4: (3,)}
    gates = Gates(plan)
    for position in (0, 1, 2):
        gates.done(position)
    assert gates.ready(3)
    assert not gates.ready(4)  # its event is known once the page that listed it is done
    gates.done(3)
    assert gates.ready(4)


def test_a_page_of_a_longer_list_holds_the_writes_that_made_its_items_in_place() -> None:
    customers = [
        exchange(n, "POST", "/v1/customers", answer={"id": f"cus_{n}AAAAAAA0{n}"}) for n in range(4)
    ]
    updates = [
        exchange(4 + n, "POST", f"/v1/customers/cus_{n}AAAAAAA0{n}", answer={"id": "x"})
        for n in range(2)
    ]
    listing = exchange(
        6, "GET", "/v1/customers", query="limit=2", answer=page("cus_1AAAAAAA01", "cus_2AAAAAAA02")
    )
    plan = plan_journeys([*customers, *updates, listing])
    assert list(plan.fences["customers"].points) == [1, 3]
    assert list(plan.makers["customers"]) == [0, 1, 2, 3]
    gates = Gates(plan)
    assert gates.ready(0) and gates.ready(4)
    assert not gates.ready(1)  # the first item's maker waits for the customer made before
    gates.done(0)
    assert gates.ready(1) and gates.ready(2)  # the page's two makers, in either order
    assert not gates.ready(3)  # the customer made after the page waits for both
    gates.done(2)
    assert not gates.ready(3)
    gates.done(1)
    assert gates.ready(3)
    assert plan.windows[6].chained is False


def test_a_page_of_events_no_answer_named_holds_every_earlier_write_in_order() -> None:
    writes = [
        exchange(n, "POST", "/v1/customers", answer={"id": f"cus_{n}AAAAAAA0{n}"}) for n in range(3)
    ]
    events = exchange(3, "GET", "/v1/events", query="limit=1", answer=page("evt_AAAAAAAA01"))
    later = exchange(4, "POST", "/v1/customers", answer={"id": "cus_4AAAAAAA04"})
    plan = plan_journeys([*writes, events, later])
    assert plan.chained == {"events": 3} and plan.windows[3].chained
    gates = Gates(plan)
    assert gates.ready(0) and not gates.ready(1) and not gates.ready(2)
    gates.done(0)
    assert gates.ready(1) and not gates.ready(2)
    gates.done(1)
    gates.done(2)
    assert gates.ready(3) and not gates.ready(4)  # after the page, as before: the barrier


def test_shadow_plan_json_says_what_each_barrier_waits_for_and_why(tmp_path: Path) -> None:
    path = recording(
        tmp_path / "r.jsonl",
        [
            exchange(0, "POST", "/v1/payment_intents", answer={"id": "pi_AAAAAAAA01"}),
            exchange(1, "POST", "/v1/webhook_endpoints", answer={"id": "we_AAAAAAAA01"}),
            exchange(2, "GET", "/v1/charges", answer=page(more=False)),
            exchange(3, "POST", "/v1/payment_intents", answer={"id": "pi_BBBBBBBB02"}),
            exchange(4, "POST", "/v1/frobnicators", answer={"id": "fr_AAAAAAAA01"}),
        ],
    )
    data = json.loads(CliRunner().invoke(main, ["plan", str(path), "--json"]).output)
    (barrier,) = data["barrier_reads"]
    assert barrier["seq"] == 2 and barrier["reads"] == ["charges"]
    assert [(w["collection"], w["writes"]) for w in barrier["waits_for"]] == [
        ("payment_intents", 1)
    ]  # a webhook endpoint changes no charge
    assert "creates a charge" in barrier["waits_for"][0]["why"]
    assert barrier["later_writes_wait"] == 2  # the payment and the unknown frobnicator
    assert data["critical_path"] == 3 and data["ordered_parallelism"] == 1.7


def test_a_seq_given_twice_is_a_recording_error(tmp_path: Path) -> None:
    path = recording(
        tmp_path / "r.jsonl", [exchange(0, "GET", "/v1/balance"), exchange(0, "GET", "/v1/balance")]
    )
    with pytest.raises(RecordingError, match=r"r\.jsonl:3: seq 0 appears twice"):
        plan_recording(path)


def test_gates_hold_a_list_between_the_writes_before_and_after_it() -> None:
    exchanges = [
        exchange(0, "POST", "/v1/customers", answer={"id": "cus_AAAAAAAA01"}),
        exchange(1, "POST", "/v1/customers/cus_AAAAAAAA01", answer={"id": "cus_AAAAAAAA01"}),
        exchange(2, "GET", "/v1/customers", answer={"object": "list", "data": []}),
        exchange(3, "POST", "/v1/customers", answer={"id": "cus_BBBBBBBB02"}),
        exchange(4, "POST", "/v1/payouts", answer={"id": "po_AAAAAAAA01"}),
        exchange(5, "GET", "/v1/balance", answer={"object": "balance"}),
    ]
    gates = Gates(plan_journeys(exchanges))
    assert gates.ready(0) and gates.ready(1) and gates.ready(4)
    assert not gates.ready(2)  # earlier customer writes are still to be done
    assert not gates.ready(3)  # the list before it is still to be done
    gates.done(0)
    assert not gates.ready(2)
    gates.done(1)
    assert gates.ready(2) and not gates.ready(3)
    assert not gates.ready(5)  # a payout moves money: the balance waits for it
    gates.done(2)
    assert gates.ready(3)
    gates.done(4)
    assert gates.ready(5)  # ...but not for a customer, which moves none


def test_targets_share_a_gate_layout_but_not_what_each_has_done() -> None:
    exchanges = [
        exchange(0, "POST", "/v1/customers", answer={"id": "cus_AAAAAAAA01"}),
        exchange(1, "GET", "/v1/customers", answer={"object": "list", "data": []}),
    ]
    layout = GateLayout(plan_journeys(exchanges))
    first, second = Gates(layout), Gates(layout)
    first.done(0)
    assert first.ready(1)
    assert not second.ready(1)  # the other target has not created its customer yet
    second.done(0)
    assert second.ready(1)


def test_gates_hold_a_reference_to_a_catalogue_object_until_it_exists() -> None:
    exchanges = [
        exchange(0, "POST", "/v1/plans", form="id=gold", answer={"id": "gold", "object": "plan"}),
        exchange(1, "POST", "/v1/customers", answer={"id": "cus_AAAAAAAA01"}),
        exchange(
            2,
            "POST",
            "/v1/subscriptions",
            form="customer=cus_AAAAAAAA01&plan=gold",
            answer={"id": "sub_AAAAAAAA01"},
        ),
        exchange(3, "DELETE", "/v1/plans/gold", answer={"id": "gold", "deleted": True}),
    ]
    gates = Gates(plan_journeys(exchanges))
    assert not gates.ready(2)
    gates.done(0)
    assert gates.ready(2)
    assert not gates.ready(3)  # deleting the plan waits for the subscription that uses it
    gates.done(2)
    assert gates.ready(3)


def test_the_demo_recording_plans_into_parallel_journeys() -> None:
    plan = plan_recording(REPO / "recordings" / "demo.jsonl")
    journeys = journeys_of(plan)
    assert sorted(seq for journey in journeys for seq in journey) == sorted(plan.seqs)
    assert plan.journeys >= 6  # one per customer at least
    assert plan.largest[1] < plan.exchanges / 2


def test_shadow_plan_prints_and_emits_json(tmp_path: Path) -> None:
    path = recording(
        tmp_path / "r.jsonl",
        customer_flow(0, "cus_AAAAAAAA01", "pm_AAAAAAAA01", "pi_AAAAAAAA01")
        + customer_flow(4, "cus_BBBBBBBB02", "pm_BBBBBBBB02", "pi_BBBBBBBB02")
        + [exchange(8, "GET", "/v1/customers", answer={"object": "list", "data": []})],
    )
    runner = CliRunner()
    result = runner.invoke(main, ["plan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["journeys"] == 3 and data["largest"] == 4
    assert data["exchanges"] == 9 and data["barriers"] == 1 and data["parallelism"] == 2.2
    text = runner.invoke(main, ["plan", str(path)])
    assert "9 exchanges in 3 journeys" in text.output
    assert "largest journey: 4 exchanges" in text.output

    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"name: s\nrecording: {path.name}\ntargets: [{{name: a, launch: localstripe}}]\n"
    )
    assert (
        json.loads(runner.invoke(main, ["plan", str(scenario), "--json"]).output)["journeys"] == 3
    )
    missing = runner.invoke(main, ["plan", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.output


# --- properties --------------------------------------------------------------------------

IDS = [
    f"{prefix}_{n:02d}XXXXXXXX" for prefix in ("cus", "pi", "ch", "sub", "seti") for n in range(4)
]
ACCOUNTS = ["acct_01XXXXXXXX", "acct_02XXXXXXXX"]


@st.composite
def recorded(draw: st.DrawFn) -> list[tuple[Exchange, set[str]]]:
    """Random exchanges, each with the ids it is meant to join on."""
    out: list[tuple[Exchange, set[str]]] = []
    for seq in range(draw(st.integers(0, 25))):
        uses = draw(st.lists(st.sampled_from(IDS), max_size=3, unique=True))
        creates = draw(st.lists(st.sampled_from(IDS), max_size=2, unique=True))
        account = draw(st.none() | st.sampled_from(ACCOUNTS))
        method = draw(st.sampled_from(["GET", "POST", "DELETE"]))
        place = draw(st.sampled_from(["path", "query", "form", "brackets", "json"]))
        path, query, form, body = "/v1/things", "", "", None
        rest = list(uses)
        if place == "path" and rest:
            path = f"/v1/things/{rest.pop(0)}"
        if place == "json":
            body = {"refs": [{"id_of": value} for value in rest]}
        elif place == "brackets":
            form = "&".join(f"items%5B{i}%5D%5Bref%5D={value}" for i, value in enumerate(rest))
        elif place == "query" or method == "GET":
            query = "&".join(f"ref{i}={value}" for i, value in enumerate(rest))
        else:
            form = "&".join(f"items[{i}][ref]={value}" for i, value in enumerate(rest))
        answer = {"object": "thing", "refs": creates}
        item = exchange(
            seq,
            method,
            path,
            query=query,
            form=form,
            json_body=body,
            answer=answer,
            headers=[("Stripe-Account", account)] if account else None,
        )
        joins = set(uses) | ({account} if account else set())
        if method != "GET" or joins:
            joins |= set(creates)
        out.append((item, joins))
    return out


@settings(max_examples=120, deadline=None)
@given(recorded())
def test_every_exchange_is_in_exactly_one_journey_in_recorded_order(
    items: list[tuple[Exchange, set[str]]],
) -> None:
    plan = plan_journeys(item for item, _ in items)
    journeys = journeys_of(plan)
    flat = [seq for journey in journeys for seq in journey]
    assert sorted(flat) == [item.seq for item, _ in items]
    assert all(journey == sorted(journey) for journey in journeys)
    assert [journey[0] for journey in journeys] == sorted(journey[0] for journey in journeys)


@settings(max_examples=120, deadline=None)
@given(recorded())
def test_journeys_are_exactly_the_exchanges_connected_by_ids(
    items: list[tuple[Exchange, set[str]]],
) -> None:
    plan = plan_journeys(item for item, _ in items)
    journey_of = {plan.seqs[p]: plan.journey_of[p] for p in range(plan.exchanges)}
    # Any two exchanges that share an id are in one journey...
    for a, (one, ids_a) in enumerate(items):
        for other, ids_b in items[a + 1 :]:
            if ids_a & ids_b:
                assert journey_of[one.seq] == journey_of[other.seq]
    # ...and a journey holds nothing that is not connected through shared ids.
    component = {item.seq: item.seq for item, _ in items}

    def find(seq: int) -> int:
        while component[seq] != seq:
            seq = component[seq]
        return seq

    for a, (one, ids_a) in enumerate(items):
        for other, ids_b in items[a + 1 :]:
            if ids_a & ids_b:
                component[find(other.seq)] = find(one.seq)
    for one, _ in items:
        for other, _ in items:
            same_journey = journey_of[one.seq] == journey_of[other.seq]
            assert same_journey == (find(one.seq) == find(other.seq))


# --- the orderings, under any schedule the gates allow --------------------------------------

MADE_BY = {"customers": "cus", "charges": "ch", "webhook_endpoints": "we", "frobnicators": "fro"}


@st.composite
def stateful(draw: st.DrawFn) -> list[Exchange]:
    """Writes to collections Stripe's table knows (and one it does not), reads of the
    balance (which emit an event on localstripe), pages of lists newest first with and
    without a cursor, exactly as a target would answer them in recorded order, and
    retrieves of events a page listed."""
    made: dict[str, list[str]] = {name: [] for name in MADE_BY}
    listed: list[str] = []
    out: list[Exchange] = []
    for _ in range(draw(st.integers(1, 24))):
        seq = len(out)  # every seq its position
        action = draw(st.sampled_from(["make", "make", "update", "page", "balance", "event"]))
        if action == "make" or (action == "update" and not any(made.values())):
            name = draw(st.sampled_from(sorted(MADE_BY)))
            made[name].append(f"{MADE_BY[name]}_{seq:02d}XXXXXXXX")
            out.append(exchange(seq, "POST", f"/v1/{name}", answer={"id": made[name][-1]}))
        elif action == "update":
            name = draw(st.sampled_from([n for n in sorted(made) if made[n]]))
            target = draw(st.sampled_from(made[name]))
            out.append(exchange(seq, "POST", f"/v1/{name}/{target}", answer={"id": target}))
        elif action == "page":
            name = draw(st.sampled_from(["customers", "charges", "events"]))
            if name == "events":
                items = [f"evt_{seq:02d}XXXXXXXX"]
                listed.extend(items)
                out.append(exchange(seq, "GET", "/v1/events", answer=page(*items)))
                continue
            newest = made[name][::-1]
            query, start = "limit=2", 0
            if newest and draw(st.booleans()):
                start = draw(st.integers(0, len(newest) - 1))
                query += f"&starting_after={newest[start]}"
                start += 1
            items = newest[start : start + 2]
            answer = page(*items, more=len(newest) > start + 2)
            out.append(exchange(seq, "GET", f"/v1/{name}", query=query, answer=answer))
        elif action == "balance":
            out.append(exchange(seq, "GET", "/v1/balance", answer={"object": "balance"}))
        elif listed:
            event = draw(st.sampled_from(listed))
            out.append(exchange(seq, "GET", f"/v1/events/{event}", answer={"id": event}))
    return out


def sees(reader: Exchange, writer: Exchange) -> bool:
    """Whether Stripe's table says the id-less read can show what the other changes."""
    request = writer.request
    if request.method == "GET":
        effect = read_effect(request.path)
    else:
        effect = write_effect(resource_of(request.path))
    reads = read_collections(resource_of(reader.request.path), expands=False)
    return effect is not None and effect.touches(reads)


@settings(max_examples=150, deadline=None)
@given(stateful(), st.randoms(use_true_random=False))
def test_any_schedule_the_gates_allow_keeps_what_every_read_saw(
    exchanges: list[Exchange], rng: random.Random
) -> None:
    plan = plan_journeys(exchanges)
    gates = Gates(plan)
    todo = plan.journey_seqs()
    finished: list[int] = []  # positions (= seqs here), in the order they completed
    made: dict[str, list[str]] = {name: [] for name in MADE_BY}
    for _ in exchanges:
        ready = [journey for journey in todo if journey and gates.ready(journey[0])]
        assert ready, "the gates left nothing to run"  # no deadlock
        position = rng.choice(ready).pop(0)
        item = exchanges[position]
        request = item.request
        name = resource_of(request.path)
        if request.method == "POST" and request.path == f"/v1/{name}":
            made[name].append(json.loads(item.response.text)["id"])  # type: ignore[union-attr]
        recorded_page = json.loads(item.response.text) if request.method == "GET" else {}  # type: ignore[union-attr]
        if recorded_page.get("object") == "list" and name != "events":
            # The target answers from what exists now, newest first: the same items as
            # recorded (in any order: lists are compared by id).
            newest = made[name][::-1]
            start = 0
            if "starting_after=" in request.query:
                start = newest.index(request.query.split("starting_after=")[1]) + 1
            shown = {entry["id"] for entry in recorded_page["data"]}
            assert set(newest[start : start + 2]) == shown, (position, newest, shown)
        gates.done(position)
        finished.append(position)
    order = {position: index for index, position in enumerate(finished)}
    barriers = [e for e in exchanges if e.request.method == "GET" and "/" not in e.request.path[4:]]
    for reader in barriers:
        for writer in exchanges:
            if writer is reader or not sees(reader, writer):
                continue
            earlier = writer.seq < reader.seq
            assert (order[writer.seq] < order[reader.seq]) == earlier, (reader.seq, writer.seq)
    for user, producers in plan.after.items():
        assert all(order[p] < order[user] for p in producers)


# Catalogue traffic: a plan made, a subscription referring to it, the plan deleted.
CATALOGUE = [
    ("POST", "/v1/plans", "id=gold", {"id": "gold", "object": "plan"}),
    ("POST", "/v1/customers", "", {"id": "cus_CATALOG001"}),
    ("POST", "/v1/subscriptions", "customer=cus_CATALOG001&plan=gold", {"id": "sub_CATALOG01"}),
    ("DELETE", "/v1/plans/gold", "", {"id": "gold", "deleted": True}),
]


@settings(max_examples=150, deadline=None)
@given(stateful(), st.integers(0, len(CATALOGUE)))
def test_gates_pass_an_exchange_no_ordering_involves_without_a_look(
    exchanges: list[Exchange], catalogue: int
) -> None:
    """GateLayout.flags marks every exchange that waits for another or that another
    waits for, and those that refer to or act on a catalogue object or wait for a list;
    the gates let the unmarked by at once, which must be what looking says."""
    for method, path, form, answer in CATALOGUE[:catalogue]:
        exchanges.append(exchange(len(exchanges), method, path, form=form, answer=answer))
    plan = plan_journeys(exchanges)
    layout = GateLayout(plan)
    waited_for = set(layout.listed)
    for position in range(plan.exchanges):
        flags = layout.flags[position]
        catalogued = position in plan.refers or position in plan.acts
        assert bool(flags & CATALOGUED) == catalogued, position
        assert bool(flags & AFTER) == (position in plan.after), position
        looked = (
            list(layout.waits(position)),
            list(layout.memberships(position)),
            position in plan.after,
            position in waited_for,
        )
        assert bool(flags & INVOLVED) == (looked != ([], [], False, False)), position


def test_a_token_whose_random_id_starts_like_a_magic_one_joins_its_customer() -> None:
    """`tok_us9nIuVJJxulwB` is a token localstripe made, not Stripe's magic `tok_us`: the
    customer created from it joins the token's journey, so the token is made first."""
    exchanges = [
        exchange(0, "POST", "/v1/tokens", form="card[number]=<redacted:card:4242>",
                 answer={"id": "tok_us9nIuVJJxulwB", "object": "token"}),
        exchange(1, "POST", "/v1/customers", form="source=tok_us9nIuVJJxulwB",
                 answer={"id": "cus_AAAAAAAA01", "object": "customer"}),
    ]  # fmt: skip
    plan = plan_journeys(exchanges)
    assert journeys_of(plan) == [[0, 1]]
