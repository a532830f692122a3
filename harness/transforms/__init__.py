"""Request transforms: what a candidate sends instead of what was recorded.

A transform is a function with one signature, run on the request about to be sent to a
target, after its ids were rewritten (so it sees the target's ids):

    def transform(request: Request, context: TransformContext) -> Request | Iterable[Request] | None

It returns the request to send, several requests (sent in order; the answer to the last
one is the exchange's result), or None (nothing is sent; the result is marked skipped
with a note). A `Transform` may also `learn` from the target's answer, to teach the id
map what an answer of another shape means (a PaymentIntent answering for a Charge).

A scenario lists transforms by name with their parameters (docs/transforms.md):

    transforms:
      - {name: set_header, header: Stripe-Version, value: 2024-09-30.acacia}
      - {name: remove_param, param: description, endpoint: "POST /v1/payment_intents"}
      - mypackage.transforms:add_source      # a user's own, by dotted path

Built-ins are registered here by name; a user's own is found by `module:function`
(imported with the scenario's folder on the path) or by name in the `stripe_shadow.
transforms` entry point group.
"""

from typing import Any

from harness.transforms import builtin as builtin
from harness.transforms import charges as charges
from harness.transforms.base import (
    ENTRY_POINT_GROUP,
    TRANSFORMS,
    Ids,
    Transform,
    TransformContext,
    TransformSpec,
    check_transforms,
    known_names,
    parameters,
    resolve_transform,
)
from harness.transforms.blueprints import blueprint_named
from harness.transforms.chain import TransformChain, own_idempotency_keys, transform_chain
from harness.transforms.edit import edit_param

__all__ = [
    "ENTRY_POINT_GROUP",
    "TRANSFORMS",
    "Ids",
    "Transform",
    "TransformChain",
    "TransformContext",
    "TransformSpec",
    "check_blueprint",
    "check_transforms",
    "check_transforms_section",
    "edit_param",
    "known_names",
    "own_idempotency_keys",
    "parameters",
    "resolve_transform",
    "transform_chain",
]


def check_transforms_section(value: Any, context: dict[str, Any]) -> list[TransformSpec]:
    """A target's `transforms:` checked and resolved (harness.scenario.SECTIONS): names
    of user transforms are looked up with the scenario's folder on the path."""
    return check_transforms(value, context.get("base"))


def check_blueprint(name: str, context: dict[str, Any]) -> list[TransformSpec]:
    """A target's `blueprint:` (harness.scenario.SECTIONS): the transforms it runs first,
    checked; NotRegistered (a ValueError) for a blueprint not known."""
    del context  # a blueprint's own transforms name nothing of the scenario's folder
    return check_transforms(list(blueprint_named(name).transforms))
