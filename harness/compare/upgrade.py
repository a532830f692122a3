"""Upgrade-aware expectations (`expect_upgrade: true`): a difference between answers made
under two API versions that the catalogue diff explains (a field removed, added, moved
or retyped, an enum's values changed) is expected, with the change and Stripe's
changelog page as its reason. One the catalogue does not explain stays a difference
(pure; docs/catalogue.md).
"""

from __future__ import annotations

from harness.compare.normalize import Normalized
from harness.model import Difference
from harness.stripe.catalogue.changes import ADDED, REMOVED, RETYPED, VALUES, field_change

EXPECTED = "expected"

# A difference kind → the effects of a change that explain it.
_EXPLAINED_BY = {
    "removed": (REMOVED,),
    "added": (ADDED,),
    "type": (RETYPED, REMOVED, ADDED),
    "value": (VALUES, RETYPED),
}


def _field_steps(field: str) -> tuple[str, ...]:
    """`period.end` → ("period", "end"); list steps (`tax_rates[].id`) are left out, as
    the catalogue names a list's item fields after the list."""
    return tuple(step for step in field.replace("[]", "").split(".") if step)


def explain_upgrade(
    differences: list[Difference],
    baseline: Normalized,
    candidate: Normalized,
    from_version: str,
    to_version: str,
) -> None:
    """Mark each difference the catalogue diff between the two versions explains as
    expected, with the change as its reason (in place)."""
    for difference in differences:
        wanted = _EXPLAINED_BY.get(difference.kind)
        if wanted is None:
            continue
        # The object and field compare.cause located when the difference was diffed.
        if difference.owner is None or not difference.field or difference.cause_kind:
            continue
        change = field_change(
            difference.owner, _field_steps(difference.field), from_version, to_version
        )
        if change is None or change.effect not in wanted:
            continue
        if change.effect == VALUES and not (
            difference.baseline in change.old_values and difference.candidate in change.new_values
        ):
            continue  # the enum changed, but not from one of these values to the other
        difference.outcome = EXPECTED
        difference.reason = change.reason()
