"""Blueprints: the named pieces of a migration, each a request transform paired with the
comparison it needs (docs/blueprints.md).

A target says `blueprint: charges_to_payment_intents` in one line. At replay its
transforms run before the target's own; at compare its correspondence projects the
candidate's answers onto the recorded ones' fields and its expect rules, each with a
reason, explain the structural change. Pure data: the replay and the compare stage each
read the part that is theirs, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.registry import Registry


@dataclass(frozen=True, slots=True)
class Blueprint:
    """A migration step: what the candidate sends, how its answers correspond to the
    recorded ones, and which differences are the change itself."""

    name: str
    summary: str
    transforms: tuple[dict[str, Any], ...]  # entries as a scenario's `transforms:` has them
    correspondence: str | None  # a name in harness.compare.correspondence.CORRESPONDENCES
    expect: tuple[dict[str, str], ...]  # compare.expect rules, each with a reason


CHARGES_TO_PAYMENT_INTENTS = Blueprint(
    name="charges_to_payment_intents",
    summary="The Charges API replaced by PaymentIntents: a recorded charge is sent as a "
    "confirmed PaymentIntent and its answer compared with the recorded Charge on the "
    "fields that correspond.",
    transforms=({"name": "charges_to_payment_intents"},),
    correspondence="charge_as_payment_intent",
    expect=(
        {
            "endpoint": "POST /v1/charges*",
            "path": "$.object",
            "kind": "value",
            "reason": "charges_to_payment_intents: a PaymentIntent answers for the Charge; "
            "compared on amount, currency, customer, payment method, status, capture, "
            "refunds, failure and decline codes, description and metadata; the Charge's "
            "other fields have no counterpart",
        },
        {
            "endpoint": "* /v1/charges*",
            "path": "*payment_intent",
            "kind": "value",
            "reason": "charges_to_payment_intents: a charge made by a PaymentIntent names it; "
            "a Charges API charge names none",
        },
        {
            "endpoint": "* /v1/refunds*",
            "path": "*payment_intent",
            "kind": "value",
            "reason": "charges_to_payment_intents: a refund of a PaymentIntent's charge names "
            "the PaymentIntent",
        },
    ),
)

BLUEPRINTS: Registry[Blueprint] = Registry("blueprint", "stripe_shadow.blueprints")
BLUEPRINTS.register(CHARGES_TO_PAYMENT_INTENTS.name, CHARGES_TO_PAYMENT_INTENTS)


def blueprint_named(name: str) -> Blueprint:
    """The blueprint called `name`; NotRegistered (a ValueError) naming the known ones."""
    return BLUEPRINTS.named(name)
