"""The catalogue diff at work: where a difference sits, which differences an expected
upgrade explains and which it does not, and `shadow upgrade-check` on a recording made
under 2024-09-30.acacia (plain data, then the command as a user runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.compare.diff import diff_responses
from harness.compare.normalize import normalize_response
from harness.compare.profile import STRIPE_PROFILE
from harness.compare.upgrade import explain_upgrade
from harness.formats.recording import Header, RecordingWriter
from harness.model import Exchange, Request, Response
from harness.upgrade.check import upgrade_check

SHADOW = str(Path(sys.executable).parent / "shadow")
T0 = 1_760_000_000.0
ACACIA, BASIL = "2024-09-30.acacia", "2025-03-31.basil"
CHANGELOG = "(Stripe changelog: https://docs.stripe.com/changelog/basil)"


def _answer(body: Any, version: str) -> Response:
    return Response(
        200, [("Content-Type", "application/json"), ("Stripe-Version", version)], json.dumps(body)
    )


def test_an_expected_upgrade_explains_what_the_catalogue_knows_and_nothing_else() -> None:
    """An invoice as acacia answers it beside the same invoice as basil answers it, plus a
    change no version made (a `plan` dropped from the subscription): the catalogue
    explains the first, and the second stays a real difference."""
    acacia_invoice = {
        "object": "invoice",
        "id": "in_Recorded00000001",
        "subscription": "sub_Recorded0000001",
        "charge": "ch_Recorded00000001",
        "created": T0,
        "lines": {"object": "list", "data": [], "has_more": False},
        "plan_note": {"plan": "gold"},
    }
    basil_invoice = {
        "object": "invoice",
        "id": "in_Recorded00000001",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": "sub_Recorded0000001"},
        },
        "created": T0,
        "lines": {"object": "list", "data": [], "has_more": False},
        "plan_note": {},
    }
    known = {
        "in_Recorded00000001": "in_Recorded00000001",
        "sub_Recorded0000001": "sub_Recorded0000001",
    }
    known["ch_Recorded00000001"] = "ch_Recorded00000001"
    baseline = normalize_response(
        _answer(acacia_invoice, ACACIA), T0, known, STRIPE_PROFILE.for_version(ACACIA)
    )
    candidate = normalize_response(
        _answer(basil_invoice, BASIL), T0, known, STRIPE_PROFILE.for_version(BASIL)
    )
    differences = diff_responses("GET /v1/invoices/{invoice}", baseline, candidate)
    explain_upgrade(differences, baseline, candidate, ACACIA, BASIL)

    outcomes = {(d.path, d.kind): (d.outcome, d.reason) for d in differences}
    assert outcomes[("$.subscription", "removed")] == (
        "expected",
        f"moved to parent.subscription_details.subscription in {BASIL} {CHANGELOG}",
    )
    assert outcomes[("$.charge", "removed")] == ("expected", f"removed in {BASIL} {CHANGELOG}")
    assert outcomes[("$.parent", "added")] == ("expected", f"added in {BASIL} {CHANGELOG}")
    # No version of Stripe's API has `plan_note`: nothing explains its change.
    assert outcomes[("$.plan_note.plan", "removed")] == ("difference", None)


def test_without_two_versions_nothing_is_explained() -> None:
    body = {"object": "invoice", "id": "in_Recorded00000001", "charge": "ch_Recorded00000001"}
    gone = {"object": "invoice", "id": "in_Recorded00000001"}
    for versions in ((BASIL, BASIL), ("2020-08-27", BASIL)):
        baseline = normalize_response(_answer(body, versions[0]), T0, {})
        candidate = normalize_response(_answer(gone, versions[1]), T0, {})
        differences = diff_responses("GET /v1/invoices/{invoice}", baseline, candidate)
        explain_upgrade(differences, baseline, candidate, *versions)
        assert [(d.path, d.outcome) for d in differences] == [("$.charge", "difference")]


def _recording(path: Path) -> Path:
    """Three exchanges of an integration on acacia: an upcoming invoice, a payment intent
    with `payment_method_types`, an invoice that still has `subscription` and `paid`."""

    def exchange(seq: int, method: str, target: str, body: str, answer: dict[str, Any]) -> Exchange:
        return Exchange(
            seq=seq,
            started=T0 + seq,
            duration=0.1,
            request=Request(method, target, "", [("Stripe-Version", ACACIA)], body),
            response=Response(200, [("Content-Type", "application/json")], json.dumps(answer)),
        )

    invoice = {
        "object": "invoice",
        "id": "in_1Abcdefgh",
        "subscription": "sub_1Abcdefgh",
        "paid": True,
        "customer": "cus_1Abcdefgh",
    }
    with RecordingWriter(path, Header()) as writer:
        writer.write(exchange(0, "GET", "/v1/invoices/upcoming", "", invoice))
        writer.write(
            exchange(
                1,
                "POST",
                "/v1/payment_intents",
                "amount=500&currency=usd&payment_method_types[0]=card",
                {"object": "payment_intent", "id": "pi_1Abcdefgh", "status": "succeeded"},
            )
        )
        writer.write(exchange(2, "GET", "/v1/invoices/in_1Abcdefgh", "", invoice))
    return path


def test_the_upgrade_check_lists_endpoints_parameters_and_fields_with_where_they_are(
    tmp_path: Path,
) -> None:
    from harness.formats.recording import iter_exchanges

    recording = _recording(tmp_path / "acacia.jsonl")
    report = upgrade_check(iter_exchanges(recording), "2026-10-28.endive").to_json()
    assert report["catalogue"] == "2026-09-30.endive" and report["exchanges"] == 3
    found = {(f["finding"], f["subject"]): f for f in report["findings"]}
    endpoint = found[("endpoint", "GET /v1/invoices/upcoming")]
    assert endpoint["change"] == f"removed in {BASIL}" and endpoint["exchanges"] == 1
    parameter = found[("parameter", "POST /v1/payment_intents payment_method_types")]
    assert parameter["change"] == "removed in 2026-09-30.endive"
    assert parameter["example"] == {
        "seq": 1,
        "endpoint": "POST /v1/payment_intents",
        "where": "payment_method_types",
    }
    subscription = found[("field", "invoice.subscription")]
    assert subscription["change"] == f"moved to parent.subscription_details.subscription in {BASIL}"
    assert subscription["exchanges"] == 2
    assert subscription["endpoints"] == ["GET /v1/invoices/upcoming", "GET /v1/invoices/{invoice}"]
    assert subscription["changelog"] == "https://docs.stripe.com/changelog/basil"
    assert ("field", "invoice.paid") in found
    assert ("field", "invoice.customer") not in found


def test_shadow_upgrade_check_prints_a_table_or_json_and_exits_0(tmp_path: Path) -> None:
    recording = _recording(tmp_path / "acacia.jsonl")
    table = subprocess.run(
        [SHADOW, "upgrade-check", str(recording), "--to", BASIL],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert table.returncode == 0, table.stderr
    assert "invoice.subscription" in table.stdout and "payment_method_types" not in table.stdout
    as_json = subprocess.run(
        [SHADOW, "upgrade-check", str(recording), "--to", BASIL, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout)["to"] == BASIL
    unknown = subprocess.run(
        [SHADOW, "upgrade-check", str(recording), "--to", "2031-01-01.zinnia"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("shadow: error: 2031-01-01.zinnia: no catalogue covers")
