"""Response-side correspondence for migrations: when a candidate answers with another
kind of object than the baseline (a PaymentIntent for a Charge), both answers are
projected onto the fields that correspond before they are compared (pure, bar reading
the blueprint a run's target names).

Without it, a PaymentIntent compared with a Charge is a hundred removed and added fields.
With it, the fields that mean the same thing are compared one to one, and the change of
object is one difference a blueprint's expect rule explains (docs/blueprints.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, TypeVar

from harness.blueprints import BLUEPRINTS
from harness.compare.normalize import parse_body
from harness.compare.rules import CompareConfig, merge_configs, parse_compare_config
from harness.model import Exchange
from harness.replay.rundir import RunTarget
from harness.stripe import endpoint_template

Projection = Callable[[dict[str, Any], dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Correspondence:
    """Which endpoints' answers correspond across two kinds of object, and how: `project`
    takes (the answer of kind `old`, the answer of kind `new`) and returns both projected."""

    name: str
    endpoints: frozenset[str]
    old: str
    new: str
    project: Projection


# A recorded Charge field → where a PaymentIntent answer holds it: on the intent itself or
# on its latest charge (expanded by the charges_to_payment_intents transform).
CHARGE_FIELDS: dict[str, str] = {
    "amount": "charge",
    "amount_captured": "charge",
    "amount_refunded": "charge",
    "captured": "charge",
    "currency": "charge",
    "customer": "intent",
    "description": "intent",
    "failure_code": "charge",
    "metadata": "intent",
    "outcome": "charge",  # its `reason` is the decline code of a declined charge
    "paid": "charge",
    "payment_method": "intent",
    "refunded": "charge",
    "status": "charge",
}


def charge_as_payment_intent(
    charge: dict[str, Any], intent: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Charge and the PaymentIntent that stands for it, each reduced to the Charge's
    fields that have a counterpart; `id` is the charge's on both sides (the intent's
    latest charge), `object` is kept so the change of kind shows once."""
    latest = intent.get("latest_charge")
    made = latest if isinstance(latest, dict) else {}
    old: dict[str, Any] = {"id": charge.get("id"), "object": charge.get("object")}
    new: dict[str, Any] = {
        "id": made.get("id", latest if isinstance(latest, str) else None),
        "object": intent.get("object"),
    }
    for name, holder in CHARGE_FIELDS.items():
        if name not in charge:
            continue
        old[name] = charge[name]
        source = made if holder == "charge" else intent
        if name in source:
            new[name] = source[name]
    return old, new


CORRESPONDENCES: dict[str, Correspondence] = {
    "charge_as_payment_intent": Correspondence(
        name="charge_as_payment_intent",
        endpoints=frozenset({"POST /v1/charges", "POST /v1/charges/{charge}/capture"}),
        old="charge",
        new="payment_intent",
        project=charge_as_payment_intent,
    )
}


def _object(exchange: Exchange) -> dict[str, Any] | None:
    response = exchange.response
    if response is None or response.status >= 300:
        return None
    tree, is_json = parse_body(response.text)
    return tree if is_json and isinstance(tree, dict) else None


def _with_body(exchange: Exchange, body: dict[str, Any]) -> Exchange:
    assert exchange.response is not None
    text = json.dumps(body, ensure_ascii=False)
    return replace(exchange, response=replace(exchange.response, body=text))


def project_exchanges(
    correspondence: Correspondence,
    baseline: dict[int, Exchange],
    candidate: dict[int, Exchange],
) -> tuple[dict[int, Exchange], dict[int, Exchange]]:
    """Both sides' exchanges with the corresponding answers projected; the dicts given
    are left as they are (the baseline is shared by every candidate)."""
    projected_baseline: dict[int, Exchange] | None = None
    projected_candidate: dict[int, Exchange] | None = None
    for seq, theirs in candidate.items():
        ours = baseline.get(seq)
        if ours is None:
            continue
        request = ours.request
        if endpoint_template(request.method, request.path) not in correspondence.endpoints:
            continue
        one, other = _object(ours), _object(theirs)
        if one is None or other is None:
            continue
        kinds = (one.get("object"), other.get("object"))
        if kinds == (correspondence.old, correspondence.new):
            old, new = correspondence.project(one, other)
            base_body, candidate_body = old, new
        elif kinds == (correspondence.new, correspondence.old):
            old, new = correspondence.project(other, one)
            base_body, candidate_body = new, old
        else:
            continue
        if projected_baseline is None or projected_candidate is None:
            projected_baseline, projected_candidate = dict(baseline), dict(candidate)
        projected_baseline[seq] = _with_body(ours, base_body)
        projected_candidate[seq] = _with_body(theirs, candidate_body)
    return projected_baseline or baseline, projected_candidate or candidate


class _Side(Protocol):
    """A pipeline Side: a dataclass holding exchanges by seq."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    exchanges: dict[int, Exchange]


S = TypeVar("S", bound=_Side)


def apply_blueprint(
    target: RunTarget, baseline: S, candidate: S, config: CompareConfig
) -> tuple[S, S, CompareConfig]:
    """The sides and settings a candidate is compared with: as given, unless its target
    names a blueprint, whose correspondence projects the answers and whose expect rules
    are added after the scenario's."""
    name = target.extra.get("blueprint")
    if not isinstance(name, str) or name not in BLUEPRINTS:
        return baseline, candidate, config
    blueprint = BLUEPRINTS[name]
    if blueprint.correspondence is not None:
        correspondence = CORRESPONDENCES[blueprint.correspondence]
        ours, theirs = project_exchanges(correspondence, baseline.exchanges, candidate.exchanges)
        baseline = replace(baseline, exchanges=ours)
        candidate = replace(candidate, exchanges=theirs)
    rules = parse_compare_config(
        {"expect": [dict(rule) for rule in blueprint.expect]}, f"blueprint {name}"
    )
    return baseline, candidate, merge_configs(config, rules)
