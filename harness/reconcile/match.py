"""One of the customer's rows against Stripe's object for it, field by field, and the
tally of every outcome: `match`, `field differs` (grouped into causes: object type,
field, kind), `only in source`, `only in Stripe`, and a row that claims an id another
row claimed already (`duplicate`). Counts are exact; samples stop at MAX_SAMPLES per
group, so the tally's size grows with the mapping, never with the rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from harness.reconcile.convert import convert
from harness.reconcile.mapping import FieldMapping, ObjectMapping
from harness.reconcile.source import SourceRow

MAX_SAMPLES = 5

# The kinds of a field difference.
VALUE = "value"
EMPTY_IN_SOURCE = "empty in source"
EMPTY_IN_STRIPE = "empty in Stripe"

# Why a row is only in the source.
NO_STRIPE_ID = "no Stripe id in the row"
NOT_IN_STRIPE = "no such object in Stripe"
DELETED_IN_STRIPE = "deleted in Stripe"

OUTCOMES = ("match", "field differs", "only in source", "only in Stripe", "duplicate")


def shown(value: Any) -> Any:
    """A value as JSON holds it: decimals and times as text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): shown(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shown(v) for v in value]
    return str(value)


def stripe_value(state: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a dotted path in a Stripe object (`items.data.0.price.id`); None when
    any step is missing. An expanded object where an id is expected reads as its id."""
    node: Any = state
    for step in path:
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
    if isinstance(node, dict) and isinstance(node.get("id"), str) and "object" in node:
        return node["id"]
    return node


@dataclass(frozen=True, slots=True)
class FieldDifference:
    field: str
    kind: str
    source: Any  # as the customer's system holds it
    converted: Any  # as Stripe would hold it
    stripe: Any


def _equal(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    if isinstance(ours, int | Decimal | float) and isinstance(theirs, int | float):
        return Decimal(str(ours)) == Decimal(str(theirs))
    return bool(ours == theirs)


def compare_field(mapping: FieldMapping, raw: Any, state: dict[str, Any]) -> FieldDifference | None:
    """One field of a row against the object; raises ConversionProblem when the row's
    value cannot convert as the mapping says."""
    theirs = stripe_value(state, mapping.path)
    ours = convert(raw, mapping.convert, mapping.options, theirs)
    if ours is None and theirs is None:
        return None
    if ours is None:
        kind = EMPTY_IN_SOURCE
    elif theirs is None:
        kind = EMPTY_IN_STRIPE
    elif _equal(ours, theirs):
        return None
    else:
        kind = VALUE
    return FieldDifference(mapping.field, kind, raw, ours, theirs)


@dataclass(slots=True)
class Group:
    """A counted group with its first samples."""

    count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, sample: dict[str, Any]) -> None:
        self.count += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(sample)


@dataclass(slots=True)
class TypeTally:
    """The outcomes of one object type."""

    rows: int = 0
    objects: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    only_in_source: dict[str, Group] = field(default_factory=dict)
    only_in_stripe: Group = field(default_factory=Group)
    duplicates: Group = field(default_factory=Group)


def _row_sample(row: SourceRow) -> dict[str, Any]:
    return {"line": row.line, "key": shown(row.key), "stripe_id": row.stripe_id}


@dataclass(slots=True)
class Tally:
    """Every outcome of a reconciliation, by object type, and the causes of field
    differences by (object type, field, kind)."""

    types: dict[str, TypeTally] = field(default_factory=dict)
    causes: dict[tuple[str, str, str], Group] = field(default_factory=dict)

    def of(self, kind: str) -> TypeTally:
        return self.types.setdefault(kind, TypeTally())

    def compared(
        self, mapping: ObjectMapping, row: SourceRow, differences: list[FieldDifference]
    ) -> None:
        counts = self.of(mapping.object)
        counts.rows += 1
        if not differences:
            counts.outcomes["match"] += 1
            return
        counts.outcomes["field differs"] += 1
        for difference in differences:
            key = (mapping.object, difference.field, difference.kind)
            self.causes.setdefault(key, Group()).add(
                {
                    **_row_sample(row),
                    "source": shown(difference.source),
                    "converted": shown(difference.converted),
                    "stripe": shown(difference.stripe),
                }
            )

    def only_in_source(self, mapping: ObjectMapping, row: SourceRow, why: str) -> None:
        counts = self.of(mapping.object)
        counts.rows += 1
        counts.outcomes["only in source"] += 1
        counts.only_in_source.setdefault(why, Group()).add(_row_sample(row))

    def duplicate(self, mapping: ObjectMapping, row: SourceRow) -> None:
        counts = self.of(mapping.object)
        counts.rows += 1
        counts.outcomes["duplicate"] += 1
        counts.duplicates.add(_row_sample(row))

    def only_in_stripe(self, mapping: ObjectMapping, object_id: str, state: dict[str, Any]) -> None:
        counts = self.of(mapping.object)
        counts.outcomes["only in Stripe"] += 1
        counts.only_in_stripe.add(
            {
                "stripe_id": object_id,
                "fields": {f.field: shown(stripe_value(state, f.path)) for f in mapping.fields},
            }
        )

    def drift(self) -> int:
        """Rows and objects that do not match: what a gate counts."""
        return sum(n for t in self.types.values() for o, n in t.outcomes.items() if o != "match")
