"""Ids whose random part is all lowercase. About one in five million random parts of 14
characters has no capital and no digit (localstripe's ids; Stripe's customer and product
ids), and the id pattern takes such a text for a word, as it must `in_progress`. Where its
place says an id goes (a path segment after its collection, a field named for its kind, a
reference beside an id of its kind) it is an id all the same: replayed, learnt and
compared as any other. One run of the SDK suite's twin at concurrency 32 showed
`refund.balance_transaction value changed` at every answer naming one refund: its
balance transaction's id, on one target, was such an id.

On plain data first, then end to end: a recording whose every id is lowercase, replayed
against the recording and a control; and a target whose every id is
(tests/lowercaseproxy.py), against a control."""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lowercaseproxy import Aliases

from harness.compare.normalize import normalize_tree
from harness.compare.profile import STRIPE_PROFILE
from harness.map.observe import flow_key
from harness.model import Request
from harness.replay.idmap import IdMap
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.receiver import EventForwarder
from harness.replay.rewrite import CURSOR, CUSTOM, ID, request_references
from harness.stripe import ID_PATTERN, is_id_of_field, is_id_shaped, is_stripe_id
from scenarios.traffic.fidelity import replay_unchanged
from scenarios.traffic.make_recording import make_recording

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_760_000_000.0
BASIL = STRIPE_PROFILE.for_version("2025-03-31.basil")
LOWER = "cus_qkdmwzexlrbtao"  # a customer id, all lowercase after its prefix
MIXED = "cus_UzivYKRp2JBnCC"

# Random parts as Stripe and localstripe make them (base62), all-lowercase ones included.
bodies = st.one_of(
    st.text(string.ascii_letters + string.digits, min_size=8, max_size=24),
    st.text(string.ascii_lowercase, min_size=8, max_size=24),
)


def references(request: Request) -> list[tuple[str, str]]:
    return [(kind, value) for kind, value, _ in request_references(request)]


# --- what a place says -------------------------------------------------------------------


def test_a_lowercase_id_is_an_id_where_its_place_says_so_and_a_word_is_not() -> None:
    assert not is_stripe_id(LOWER) and is_id_shaped(LOWER)
    assert is_id_of_field("customer", LOWER) and is_id_of_field("default_customer", LOWER)
    assert not is_id_of_field("description", LOWER)
    assert not is_id_of_field("status", "in_progress")  # a word shaped as an invoice id


def test_a_request_refers_to_a_lowercase_id_in_its_path_its_fields_and_its_cursor() -> None:
    assert references(Request("POST", f"/v1/customers/{LOWER}")) == [(ID, LOWER)]
    body = f"customer={LOWER}&default_payment_method=pm_abcdefghijklmnop&status=in_progress"
    assert references(Request("POST", "/v1/subscriptions", body=body)) == [
        (ID, LOWER),
        (ID, "pm_abcdefghijklmnop"),
    ]
    query = f"limit=3&starting_after={LOWER}"
    assert references(Request("GET", "/v1/customers", query=query)) == [(CURSOR, LOWER)]
    # A word beside a field of another kind, or text, is no id; a plan's id is chosen.
    words = "description=card_payments&metadata[note]=cus_qkdmwzexlrbtao"
    assert references(Request("POST", "/v1/charges", body=words)) == []
    chosen = "items[0][plan]=plan_professional"
    assert references(Request("POST", "/v1/subscriptions", body=chosen)) == [
        (CUSTOM, "plan_professional")
    ]
    assert references(Request("GET", "/v1/plans/plan_professional")) == [
        (CUSTOM, "plan_professional")
    ]


@settings(max_examples=200, deadline=None)
@given(body=bodies)
def test_a_customer_id_of_any_case_is_found_and_learnt(body: str) -> None:
    """Wherever a customer id goes, its random part's case does not matter: it is found in
    a request, and an answer naming it teaches the id map, on either side."""
    customer = f"cus_{body}"
    assert references(Request("POST", f"/v1/customers/{customer}")) == [(ID, customer)]
    assert references(Request("POST", "/v1/charges", body=f"customer={customer}")) == [
        (ID, customer)
    ]
    for recorded, replayed in ((customer, MIXED), (MIXED, customer)):
        idmap = IdMap()
        charge = {"object": "charge", "id": "ch_Recorded000001", "customer": recorded}
        answer = {"object": "charge", "id": "ch_Replayed000001", "customer": replayed}
        idmap.learn(charge, answer)
        assert idmap.get(recorded) == replayed


# --- learning ----------------------------------------------------------------------------


def test_a_reference_pairs_with_a_lowercase_one_of_its_kind_but_two_words_do_not() -> None:
    idmap = IdMap()
    recorded = {
        "object": "refund",
        "id": "re_Recorded000001",
        "balance_transaction": "txn_gjRbWtuSf8vOVd",
        "charge": "ch_Recorded000001",
        "status": "in_progress",
    }
    replayed = {
        "object": "refund",
        "id": "re_Replayed000001",
        "balance_transaction": "txn_qbgmftqsdkxzwh",
        "charge": "txn_Replayed000001",  # an id of another kind: no pair
        "status": "in_progress",
    }
    idmap.learn(recorded, replayed)
    assert idmap.get("txn_gjRbWtuSf8vOVd") == "txn_qbgmftqsdkxzwh"
    assert idmap.get("ch_Recorded000001") is None
    assert idmap.get("in_progress") is None


def test_a_list_item_whose_reference_is_lowercase_on_one_side_pairs_with_its_counterpart() -> None:
    """The item's signature leaves out every id neither side knows yet, whatever its case:
    a refund listed beside another pairs by its content."""
    idmap = IdMap({"ch_Recorded000001": "ch_Replayed000001"})

    def refund(own: str, transaction: str, charge: str, amount: int) -> dict[str, object]:
        return {
            "object": "refund",
            "id": own,
            "amount": amount,
            "balance_transaction": transaction,
            "charge": charge,
        }

    recorded = {"object": "list", "data": [
        refund("re_Recorded000001", "txn_Recorded000001", "ch_Recorded000001", 2900),
        refund("re_Recorded000002", "txn_Recorded000002", "ch_Recorded000001", 2000),
    ]}  # fmt: skip
    replayed = {"object": "list", "data": [
        refund("re_qbgmftqsdkxzwh", "txn_Replayed000002", "ch_Replayed000001", 2000),
        refund("re_Replayed000001", "txn_hwlzkqpcmvtdan", "ch_Replayed000001", 2900),
    ]}  # fmt: skip
    idmap.learn(recorded, replayed)
    assert idmap.get("re_Recorded000001") == "re_Replayed000001"
    assert idmap.get("txn_Recorded000001") == "txn_hwlzkqpcmvtdan"
    assert idmap.get("re_Recorded000002") == "re_qbgmftqsdkxzwh"
    assert idmap.get("txn_Recorded000002") == "txn_Replayed000002"


# --- comparing ---------------------------------------------------------------------------


def test_a_reference_neither_side_knows_is_named_alike_whatever_its_case() -> None:
    def refund(transaction: str) -> dict[str, object]:
        return {"object": "refund", "id": "re_Recorded000001", "balance_transaction": transaction}

    known = {"re_Recorded000001": "re_Recorded000001"}
    nb = normalize_tree(refund("txn_gjRbWtuSf8vOVd"), T0, known, BASIL)
    nc = normalize_tree(refund("txn_qbgmftqsdkxzwh"), T0, known, BASIL)
    assert nb == nc and nb["balance_transaction"] == "<txn_1>"


# --- end to end --------------------------------------------------------------------------


def lowercased(text: str, seed: int = 0) -> str:
    """`text` with every id given an all-lowercase random part (the same one wherever it
    appears): what a recording looks like where every id is one in five million."""
    aliases = Aliases(seed)
    return aliases.hide(text)


@pytest.mark.e2e
def test_a_recording_whose_every_id_is_lowercase_replays_as_any_other(tmp_path: Path) -> None:
    """Before, its requests went out with the recorded ids (70 difference groups against
    the recording, 404s from the targets), and two targets answering the same 404s
    showed nothing against each other."""
    recording = tmp_path / "traffic.jsonl"
    make_recording(recording, 3, 160)
    lower = tmp_path / "lower.jsonl"
    lower.write_text(lowercased(recording.read_text()))
    ids = {match.group(0) for match in ID_PATTERN.finditer(lower.read_text())}
    assert not [i for i in ids if not i.startswith("req_")]  # every id is lowercase now

    against_recording = replay_unchanged(lower, tmp_path / "recorded", baseline="recording")
    assert against_recording.differences == []
    assert against_recording.unresolved == against_recording.skipped == {"twin": 0}
    twin = replay_unchanged(lower, tmp_path / "twin")
    assert twin.differences == []
    assert twin.unresolved == twin.skipped == {"control": 0, "twin": 0}


@pytest.mark.e2e
def test_a_target_whose_every_id_is_lowercase_shows_nothing_against_a_control(
    tmp_path: Path,
) -> None:
    """tests/lowercaseproxy.py gives localstripe's ids lowercase aliases. Before, its
    balance transactions, payment intents and invoices named by references were never
    learnt, and showed as `value changed` wherever they appeared."""
    recording = tmp_path / "traffic.jsonl"
    make_recording(recording, 14, 160)
    scenario = tmp_path / "lower.yaml"
    scenario.write_text(
        f"name: lower\nrecording: {recording}\nbaseline: control\ntargets:\n"
        '  - {name: control, launch: localstripe, events: "off"}\n'
        "  - name: lower\n    api_key_env: SHADOW_TEST_LOWER_KEY\n    launch:\n"
        f"      command: {sys.executable} {ROOT / 'tests' / 'lowercaseproxy.py'} --port {{port}}\n"
        "      url: http://127.0.0.1:{port}\n      ready_path: /v1/balance\n"
    )
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            *(sys.executable, "-c", "from harness.cli import main; main()", "run", str(scenario)),
            *("--out", str(run_dir), "--concurrency", "8", "--no-progress"),
        ],
        env={**os.environ, "SHADOW_TEST_LOWER_KEY": LOCALSTRIPE_TEST_KEY},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answers = (run_dir / "lower.jsonl").read_text()
    assert "txn_" in answers and not [
        m.group(0) for m in ID_PATTERN.finditer(answers) if not m.group(0).startswith("req_")
    ]  # the target's ids all reached the run lowercase
    summary = json.loads((run_dir / "summary.json").read_text())
    lower = summary["candidates"]["lower"]
    assert lower["outcomes"]["difference"] == lower["outcomes"]["error"] == 0, lower["groups"]
    results = json.loads((run_dir / "run.json").read_text())["results"]
    assert results["lower"]["unresolved"] == results["lower"]["skipped"] == 0


def test_the_aliases_are_one_to_one_and_lowercase() -> None:
    aliases = Aliases(seed=7)
    text = " ".join(f"cus_{i:02d}AbCdEfGhIjKl" for i in range(50))
    hidden = aliases.hide(text)
    assert hidden.count("cus_") == 50 and len(set(hidden.split())) == 50
    assert all(is_id_shaped(a) and not is_stripe_id(a) for a in hidden.split())
    assert aliases.show(hidden) == text


def test_an_event_forwarded_to_the_handler_carries_the_recorded_id_of_a_lowercase_one() -> None:
    """The handler's own database holds the recorded ids: a target id of any case that
    the id map knows is replaced; a word is in no id map and stays."""
    known = {"cus_qkdmwzexlrbtao": MIXED, "txn_Replayed000001": "txn_Recorded000001"}
    forwarder = EventForwarder("http://127.0.0.1:9/", "whsec_test", known.get)
    event = {
        "id": "evt_Replayed000001",
        "object": "event",
        "type": "customer.updated",
        "data": {"object": {"id": "cus_qkdmwzexlrbtao", "status": "in_progress"}},
        "related": "txn_Replayed000001",
    }
    sent = json.loads(forwarder.payload(event))
    assert sent["data"]["object"] == {"id": MIXED, "status": "in_progress"}
    assert sent["related"] == "txn_Recorded000001"


def test_the_integration_maps_flow_of_a_lowercase_customer_is_its_own() -> None:
    """The map follows a customer's flow by its id, in a path, a parameter or an answer."""
    assert flow_key("POST", f"/v1/customers/{LOWER}", {}, {}) == LOWER
    intent = {"id": "pi_Replayed000001", "object": "payment_intent"}
    assert flow_key("POST", "/v1/payment_intents", {"customer": LOWER}, intent) == LOWER
    charge = {"id": "ch_Replayed000001", "object": "charge", "customer": LOWER}
    assert flow_key("GET", "/v1/charges/ch_Replayed000001", {}, charge) == LOWER
