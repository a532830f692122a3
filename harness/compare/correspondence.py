"""Response-side correspondence for migrations: when a candidate answers with another
kind of object than the baseline (a PaymentIntent for a Charge), both answers are
projected onto the fields that correspond before they are compared (pure, bar reading
the blueprint a run's target names).

Without it, a PaymentIntent compared with a Charge is a hundred removed and added fields.
With it, the fields that mean the same thing are compared one to one, and the change of
object is one difference a blueprint's expect rule explains (docs/blueprints.md).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from harness.compare.normalize import NotComparable, parse_body
from harness.compare.rules import CompareConfig, merge_configs, parse_compare_config
from harness.formats.rundir import RunTarget
from harness.model import Exchange
from harness.registry import Registry
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


CORRESPONDENCES: Registry[Correspondence] = Registry(
    "correspondence", "stripe_shadow.correspondences"
)
CORRESPONDENCES.register(
    "charge_as_payment_intent",
    Correspondence(
        name="charge_as_payment_intent",
        endpoints=frozenset({"POST /v1/charges", "POST /v1/charges/{charge}/capture"}),
        old="charge",
        new="payment_intent",
        project=charge_as_payment_intent,
    ),
)


def _object(exchange: Exchange) -> dict[str, Any] | None:
    response = exchange.response
    if response is None or response.status >= 300:
        return None
    try:
        tree, is_json = parse_body(response.text)
    except NotComparable:
        return None  # compared as it is, which says why it cannot be
    return tree if is_json and isinstance(tree, dict) else None


def _with_body(exchange: Exchange, body: dict[str, Any]) -> Exchange:
    assert exchange.response is not None
    text = json.dumps(body, ensure_ascii=False)
    return replace(exchange, response=replace(exchange.response, body=text))


def project_pair(
    correspondence: Correspondence, ours: Exchange, theirs: Exchange
) -> tuple[Exchange, Exchange]:
    """One baseline exchange and the candidate's for the same seq, their answers
    projected when they are the two kinds of a correspondence (else as given)."""
    request = ours.request
    if endpoint_template(request.method, request.path) not in correspondence.endpoints:
        return ours, theirs
    one, other = _object(ours), _object(theirs)
    if one is None or other is None:
        return ours, theirs
    kinds = (one.get("object"), other.get("object"))
    if kinds == (correspondence.old, correspondence.new):
        base_body, candidate_body = correspondence.project(one, other)
    elif kinds == (correspondence.new, correspondence.old):
        old, new = correspondence.project(other, one)
        base_body, candidate_body = new, old
    else:
        return ours, theirs
    return _with_body(ours, base_body), _with_body(theirs, candidate_body)


PairProjection = Callable[[Exchange, Exchange], tuple[Exchange, Exchange]]


def apply_blueprint(
    target: RunTarget, config: CompareConfig
) -> tuple[PairProjection | None, CompareConfig]:
    """How a candidate's pairs are projected before they are compared (None: they are
    not) and the settings it is compared with: as given, unless its target names a
    blueprint, whose correspondence projects the answers and whose expect rules are added
    after the scenario's. Pairs are projected one at a time, as compare streams them."""
    name = target.extra.get("blueprint")
    if not isinstance(name, str):
        return None, config
    # Imported only for a target that names a blueprint: the transforms are most of
    # what compare would import for nothing otherwise.
    from harness.transforms.blueprints import BLUEPRINTS

    if name not in BLUEPRINTS:
        return None, config
    blueprint = BLUEPRINTS[name]
    projection: PairProjection | None = None
    if blueprint.correspondence is not None:
        projection = functools.partial(project_pair, CORRESPONDENCES[blueprint.correspondence])
    rules = parse_compare_config(
        {"expect": [dict(rule) for rule in blueprint.expect]}, f"blueprint {name}"
    )
    return projection, merge_configs(config, rules)
