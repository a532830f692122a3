"""Blueprints: the Charge ↔ PaymentIntent correspondence on plain data and on a
hand-written run, and the Charges → PaymentIntents scenario end to end against
localstripe, a resumed run included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.compare.correspondence import (
    CHARGE_FIELDS,
    CORRESPONDENCES,
    charge_as_payment_intent,
    project_pair,
)
from harness.compare.pipeline import compare_run
from harness.formats.idmap import load_idmap, write_idmap
from harness.formats.outcomes import read_outcomes
from harness.formats.recording import Header, RecordingWriter, iter_exchanges
from harness.formats.results import ResultWriter, latest_exchanges
from harness.formats.rundir import RunInfo, load_run, write_run_json
from harness.model import Exchange, Request, Response
from harness.replay.plan import plan_recording
from harness.replay.session import resume_replay, start_replay
from harness.scenario import load_scenario
from harness.stripe import form_tree, parse_form_pairs
from harness.transforms.blueprints import BLUEPRINTS

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_760_000_000.0

CHARGE: dict[str, Any] = {
    "id": "ch_Recorded00001",
    "object": "charge",
    "amount": 2000,
    "amount_refunded": 0,
    "captured": True,
    "currency": "usd",
    "customer": "cus_Recorded0001",
    "description": "Order 1001",
    "failure_code": None,
    "metadata": {"order_id": "1001"},
    "paid": True,
    "payment_intent": None,
    "payment_method": "pm_Recorded00001",
    "receipt_url": "https://pay.stripe.com/receipts/x",
    "refunded": False,
    "source": {"id": "card_Recorded0001", "object": "card", "last4": "4242"},
    "statement_descriptor": "SHADOW SHOP",
    "status": "succeeded",
}


def intent(**charge_changes: Any) -> dict[str, Any]:
    """The PaymentIntent a candidate answers for CHARGE, its latest charge expanded."""
    latest = {
        "id": "ch_Target000001",
        "object": "charge",
        "amount": 2000,
        "amount_refunded": 0,
        "captured": True,
        "currency": "usd",
        "customer": "cus_Target000001",
        "failure_code": None,
        "paid": True,
        "payment_intent": "pi_Target000001",
        "refunded": False,
        "status": "succeeded",
        **charge_changes,
    }
    return {
        "id": "pi_Target000001",
        "object": "payment_intent",
        "amount": 2000,
        "currency": "usd",
        "customer": "cus_Target000001",
        "description": "Order 1001",
        "metadata": {"order_id": "1001"},
        "payment_method": "pm_Target000001",
        "status": "succeeded",
        "client_secret": "pi_Target000001_secret_abc",
        "latest_charge": latest,
    }


# --- the projection -----------------------------------------------------------------------


def test_a_charge_and_its_payment_intent_are_reduced_to_the_fields_that_correspond() -> None:
    old, new = charge_as_payment_intent(CHARGE, intent())
    assert (
        set(old)
        == set(new)
        == {"id", "object", *CHARGE_FIELDS}
        - {
            "amount_captured",
            "outcome",
        }
    )
    assert (old["id"], new["id"]) == ("ch_Recorded00001", "ch_Target000001")
    assert (old["object"], new["object"]) == ("charge", "payment_intent")
    assert new["payment_method"] == "pm_Target000001"  # from the intent
    assert new["status"] == "succeeded" and new["captured"] is True  # from its charge
    assert "source" not in old and "receipt_url" not in old  # no counterpart: not compared


def test_a_field_the_payment_intent_side_lacks_stays_missing_and_an_id_only_charge_is_kept() -> (
    None
):
    answer = intent()
    del answer["description"]
    answer["latest_charge"] = "ch_Target000001"
    old, new = charge_as_payment_intent(CHARGE, answer)
    assert "description" in old and "description" not in new
    assert "status" not in new and new["id"] == "ch_Target000001"


def exchange(seq: int, method: str, path: str, body: Any, status: int = 200) -> Exchange:
    return Exchange(
        seq,
        T0 + seq,
        0.01,
        Request(method, path),
        Response(status, [("Content-Type", "application/json")], json.dumps(body)),
        extra={"journey": 0},
    )


def test_only_a_charge_answered_by_a_payment_intent_is_projected_on_either_side() -> None:
    correspondence = CORRESPONDENCES["charge_as_payment_intent"]
    recorded_charge = exchange(0, "POST", "/v1/charges", CHARGE)
    ours, theirs = project_pair(
        correspondence, recorded_charge, exchange(0, "POST", "/v1/payment_intents", intent())
    )
    assert json.loads(ours.response.text)["object"] == "charge"  # type: ignore[union-attr]
    assert json.loads(theirs.response.text)["id"] == "ch_Target000001"  # type: ignore[union-attr]
    assert recorded_charge.response.body == json.dumps(CHARGE)  # type: ignore[union-attr]
    # A PaymentIntent on the baseline's side and a Charge on the candidate's: the same.
    ours, theirs = project_pair(
        correspondence,
        exchange(1, "POST", "/v1/charges/ch_Recorded00001/capture", intent()),
        exchange(1, "POST", "/v1/charges/ch_Target000001/capture", CHARGE),
    )
    assert json.loads(ours.response.text)["object"] == "payment_intent"  # type: ignore[union-attr]
    assert json.loads(theirs.response.text).keys() == json.loads(ours.response.text).keys()  # type: ignore[union-attr]
    # Another endpoint, the same kind on both sides, an error: left as they are.
    for pair in (
        (
            exchange(2, "GET", "/v1/charges/ch_Recorded00001", CHARGE),
            exchange(2, "GET", "/v1/charges/ch_Target000001", intent()),
        ),
        (exchange(3, "POST", "/v1/charges", CHARGE), exchange(3, "POST", "/v1/charges", CHARGE)),
        (
            exchange(4, "POST", "/v1/charges", {"error": {"code": "card_declined"}}, 402),
            exchange(4, "POST", "/v1/payment_intents", intent()),
        ),
    ):
        assert project_pair(correspondence, *pair) == pair


def test_every_blueprint_is_documented_and_names_a_correspondence_that_exists() -> None:
    docs = (ROOT / "docs" / "blueprints.md").read_text()
    for name, blueprint in BLUEPRINTS.items():
        assert f"## {name}" in docs
        assert blueprint.correspondence is None or blueprint.correspondence in CORRESPONDENCES
        assert all(rule["reason"].startswith(name) for rule in blueprint.expect)


# --- compare on a hand-written run --------------------------------------------------------


def hand_run(tmp_path: Path, answer: dict[str, Any], blueprint: str | None) -> Path:
    """A run whose recording made CHARGE and whose candidate answered `answer`."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    recorded = exchange(0, "POST", "/v1/charges", CHARGE)
    recording = tmp_path / "r.jsonl"
    with RecordingWriter(recording, Header()) as writer:
        writer.write(recorded)
    (tmp_path / "s.yaml").write_text("name: hand\n")
    header = Header(source={"kind": "replay", "run": "run", "target": "pi"})
    with ResultWriter(run_dir / "pi.jsonl", header) as writer:
        writer.write(exchange(0, "POST", "/v1/payment_intents", answer))
    ids = {
        "ch_Recorded00001": "ch_Target000001",
        "cus_Recorded0001": "cus_Target000001",
        "pm_Recorded00001": "pm_Target000001",
    }
    write_idmap(run_dir / "pi.idmap.json", "pi", ids)
    target: dict[str, Any] = {"name": "pi", "role": "candidate", "url": "http://127.0.0.1:1"}
    if blueprint is not None:
        target["blueprint"] = blueprint
    write_run_json(
        run_dir,
        RunInfo.from_json(
            {
                "version": 1,
                "name": "run",
                "scenario": {"name": "hand", "path": str(tmp_path / "s.yaml")},
                "recording": {"path": str(recording), "header": {}, "exchanges": 1},
                "baseline": "recording",
                "targets": [target],
                "status": "finished",
            }
        ),
    )
    return run_dir


def differences(run_dir: Path) -> list[tuple[str, str, str]]:
    compare_run(run_dir)
    (outcome,) = read_outcomes(run_dir)
    return sorted((d.path, d.kind, d.outcome) for d in outcome.differences)


def test_with_the_blueprint_the_change_of_object_is_one_expected_difference(
    tmp_path: Path,
) -> None:
    run_dir = hand_run(tmp_path, intent(), "charges_to_payment_intents")
    assert differences(run_dir) == [("$.object", "value", "expected")]
    (group,) = json.loads((run_dir / "summary.json").read_text())["candidates"]["pi"]["groups"]
    assert group["reason"].startswith("charges_to_payment_intents: a PaymentIntent answers")


def test_with_the_blueprint_a_field_that_corresponds_still_fails(tmp_path: Path) -> None:
    answer = intent(amount=1999, status="failed", failure_code="card_declined")
    run_dir = hand_run(tmp_path, answer, "charges_to_payment_intents")
    assert differences(run_dir) == [
        ("$.amount", "value", "difference"),
        ("$.failure_code", "value", "difference"),
        ("$.object", "value", "expected"),
        ("$.status", "value", "difference"),
    ]


def test_without_the_blueprint_a_payment_intent_is_a_heap_of_differences(tmp_path: Path) -> None:
    found = differences(hand_run(tmp_path, intent(), None))
    assert len(found) >= 10 and all(outcome == "difference" for *_, outcome in found)
    assert ("$.source", "removed", "difference") in found


# --- the scenario, end to end --------------------------------------------------------------

SCENARIO = ROOT / "scenarios" / "charges-to-payment-intents.yaml"
# Every group compare reports for the scenario, and why (none is a real difference):
EXPECTED_GROUPS = {
    # The blueprint: a PaymentIntent answers for each of the 3 charges that succeeded and
    # for the capture; compared on the fields that correspond, the object is what changed.
    ("POST /v1/charges", "$.object", "value"): 3,
    ("POST /v1/charges/{charge}/capture", "$.object", "value"): 1,
    # The blueprint: the charge a PaymentIntent made names it; the recorded ones did not.
    ("GET /v1/charges/{charge}", "$.payment_intent", "value"): 2,
    ("POST /v1/charges/{charge}", "$.payment_intent", "value"): 1,
    ("GET /v1/charges", "$.data[].payment_intent", "value"): 1,
    # localstripe's PaymentIntents refuse a description: the scenario removes it, so the
    # intent has none where the recorded charge had one.
    ("POST /v1/charges", "$.description", "removed"): 3,
    ("POST /v1/charges/{charge}/capture", "$.description", "removed"): 1,
    # localstripe makes a PaymentIntent's charge without description, statement descriptor
    # or metadata (Stripe copies the metadata at confirmation), on every read of it.
    ("GET /v1/charges/{charge}", "$.description", "value"): 2,
    ("GET /v1/charges/{charge}", "$.statement_descriptor", "value"): 2,
    ("GET /v1/charges/{charge}", "$.metadata.order_id", "removed"): 2,
    ("POST /v1/charges/{charge}", "$.description", "value"): 1,
    ("POST /v1/charges/{charge}", "$.statement_descriptor", "value"): 1,
    ("POST /v1/charges/{charge}", "$.metadata.order_id", "removed"): 1,
    ("GET /v1/charges", "$.data[].description", "value"): 1,
    ("GET /v1/charges", "$.data[].statement_descriptor", "value"): 1,
    ("GET /v1/charges", "$.data[].metadata.order_id", "removed"): 1,
}


@pytest.fixture(scope="module")
def charges_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("charges") / "run"
    start_replay(load_scenario(SCENARIO), out=out)
    return out


@pytest.mark.e2e
def test_charges_are_replayed_as_payment_intents_and_every_status_holds(charges_run: Path) -> None:
    recorded = {e.seq: e for e in iter_exchanges(ROOT / "recordings" / "charges.jsonl")}
    results = load_run(charges_run).exchanges("payment-intents")
    assert {s: e.response.status for s, e in results.items()} == {  # type: ignore[union-attr]
        s: e.response.status  # type: ignore[union-attr]
        for s, e in recorded.items()
    }
    assert not any(e.extra["unresolved"] or e.extra["skipped"] for e in results.values())
    ids = load_idmap(charges_run / "payment-intents.idmap.json")
    for seq, e in recorded.items():
        sent = results[seq].request
        if e.request.path == "/v1/charges" and e.request.method == "POST":
            assert sent.path == "/v1/payment_intents"
            body = form_tree(parse_form_pairs(sent.text))
            assert body["confirm"] == "true" and body["payment_method_types"] == ["card"]
            assert "description" not in body  # the scenario's remove_param, after
            if e.response.status == 200:  # type: ignore[union-attr]
                charge = json.loads(e.response.text)["id"]  # type: ignore[union-attr]
                made = json.loads(results[seq].response.text)["latest_charge"]["id"]  # type: ignore[union-attr]
                assert ids[charge] == made  # learnt from the PaymentIntent
        elif e.request.path.endswith("/capture"):
            assert sent.path.startswith("/v1/payment_intents/pi_")
            assert form_tree(parse_form_pairs(sent.text))["amount_to_capture"] == "6000"
        elif e.request.path == "/v1/refunds":
            charge = form_tree(parse_form_pairs(e.request.text))["charge"]
            assert form_tree(parse_form_pairs(sent.text))["charge"] == ids[charge]
        else:
            assert sent.method == e.request.method
            assert sent.path.split("/")[:3] == e.request.path.split("/")[:3]


@pytest.mark.e2e
def test_charges_to_payment_intents_compares_to_the_explained_groups_only(
    charges_run: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(charges_run, run_dir)
    summary = compare_run(run_dir)["candidates"]["payment-intents"]
    assert summary["outcomes"] == {
        "match": 12,
        "noise": 0,
        "expected": 8,
        "difference": 0,
        "error": 0,
    }
    found = {
        (place["endpoint"], place["path"], g["kind"]): place["count"]
        for g in summary["groups"]
        for place in g["locations"]
    }
    assert found == EXPECTED_GROUPS
    # Seen through five endpoints, they are changes of a few fields of a charge.
    assert sorted(g["cause"] for g in summary["groups"]) == [
        "charge.description removed",
        "charge.description value changed",
        "charge.metadata.order_id removed",
        "charge.object value changed",
        "charge.payment_intent value changed",
        "charge.statement_descriptor value changed",
    ]
    assert {g["outcome"] for g in summary["groups"]} == {"expected"}
    # The declined charge is a 402 card_declined on both sides: compared as an error, equal.
    declined = [o for o in read_outcomes(run_dir) if o.seq == 13]
    assert [(o.kind, o.differences) for o in declined] == [("match", [])]

    # The projection compares what corresponds: a PaymentIntent that charged another
    # amount is a real difference. (A reader takes the last line of a seq.)
    target_file = run_dir / "payment-intents.jsonl"
    first = latest_exchanges(target_file)[9]
    answer = json.loads(first.response.text)  # type: ignore[union-attr]
    answer["latest_charge"]["amount"] = 1999
    first.response.body = json.dumps(answer)  # type: ignore[union-attr]
    with open(target_file, "a", encoding="utf-8") as file:
        file.write(json.dumps(first.to_json()) + "\n")
    compare_run(run_dir)
    (changed,) = [o for o in read_outcomes(run_dir) if o.seq == 9]
    assert changed.kind == "difference"
    assert [
        (d.path, d.kind, d.baseline, d.candidate)
        for d in changed.differences
        if d.outcome == "difference"
    ] == [("$.amount", "value", 2000, 1999)]


@pytest.mark.e2e
def test_a_resumed_run_relearns_what_the_transform_taught_from_the_kept_answers(
    charges_run: Path, tmp_path: Path
) -> None:
    """The second buyer's journey (its customer, card, charge and refund) is kept; the
    rest is replayed again on a fresh localstripe. The kept charge's pairing comes from
    the transform's learning only (a Charge and a PaymentIntent share no shape)."""
    run_dir = tmp_path / "run"
    shutil.copytree(charges_run, run_dir)
    plan = plan_recording(ROOT / "recordings" / "charges.jsonl")
    journey = plan.journey_of[plan.seqs.index(10)]
    kept = {seq for position, seq in enumerate(plan.seqs) if plan.journey_of[position] == journey}
    assert kept == {3, 4, 5, 10, 17}
    target_file = run_dir / "payment-intents.jsonl"
    header, *lines = target_file.read_text().splitlines()
    target_file.write_text(
        "\n".join([header, *(line for line in lines if json.loads(line)["seq"] in kept)]) + "\n"
    )
    (run_dir / "payment-intents.idmap.json").unlink()
    data = json.loads((run_dir / "run.json").read_text())
    data["status"] = "interrupted"
    write_run_json(run_dir, RunInfo.from_json(data))

    resume_replay(run_dir)
    recorded = {e.seq: e for e in iter_exchanges(ROOT / "recordings" / "charges.jsonl")}
    charge = json.loads(recorded[10].response.text)["id"]  # type: ignore[union-attr]
    kept_answer = json.loads(latest_exchanges(target_file)[10].response.text)  # type: ignore[union-attr]
    assert (
        load_idmap(run_dir / "payment-intents.idmap.json")[charge]
        == (kept_answer["latest_charge"]["id"])
    )
    summary = compare_run(run_dir)["candidates"]["payment-intents"]
    assert summary["outcomes"]["difference"] == summary["outcomes"]["error"] == 0
