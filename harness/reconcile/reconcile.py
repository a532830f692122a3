"""`shadow reconcile --source`: the customer's rows against Stripe's objects, written as
reconcile.json and index.html (docs/reconcile.md).

Stripe's side is gathered first into a scratch store on disk; then each object type's
rows stream past it once, in the source's own order, each looked up by its Stripe id;
what no row asked for is only in Stripe. Memory holds a batch of rows and the tally's
samples, whatever the number of rows and objects. Nothing is written until everything
was read and compared: a mistake or a failure leaves the output directory as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import __version__
from harness.capture.redact import redact_tree
from harness.errors import InputError, LiveModeRefused
from harness.formats.atomic import replacing, write_json_atomically
from harness.reconcile.convert import ConversionProblem
from harness.reconcile.mapping import Mapping, ObjectMapping, read_mapping
from harness.reconcile.match import (
    DELETED_IN_STRIPE,
    NO_STRIPE_ID,
    NOT_IN_STRIPE,
    OUTCOMES,
    Tally,
    compare_field,
)
from harness.reconcile.source import Source, open_source
from harness.reconcile.stripe_side import (
    LiveTarget,
    StripeObjects,
    gather_recording,
    gather_target,
)

FORMAT = "stripe-shadow-reconcile"
VERSION = 1


@dataclass(frozen=True, slots=True)
class StripeSide:
    """`--stripe`: a recording's path, or a live target's URL with its key's variable."""

    where: str
    api_key_env: str | None = None
    rate: float = 20.0
    allow_live: bool = False
    allow_truncated: bool = False

    @property
    def live(self) -> bool:
        return self.where.startswith(("http://", "https://"))

    def target(self) -> LiveTarget:
        if not self.api_key_env:
            raise InputError(f"--stripe {self.where}: a live target needs --api-key-env NAME")
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise InputError(f"--api-key-env {self.api_key_env}: the variable is not set")
        if key.startswith(("sk_live_", "rk_live_")) and not self.allow_live:
            raise LiveModeRefused(
                f"--api-key-env {self.api_key_env}: a live-mode key; reconcile only reads, "
                "but pass --allow-live to say you mean it"
            )
        if self.rate <= 0:
            raise InputError(f"--rate {self.rate}: give requests per second above 0")
        return LiveTarget(self.where.rstrip("/"), key, self.rate)


def _compare_rows(
    source: Source, mapping: ObjectMapping, store: StripeObjects, tally: Tally
) -> None:
    for row in source.rows(mapping):
        if row.stripe_id is None:
            tally.only_in_source(mapping, row, NO_STRIPE_ID)
            continue
        found = store.take(mapping.object, row.stripe_id)
        if found is None:
            tally.only_in_source(mapping, row, NOT_IN_STRIPE)
            continue
        if found.taken_before:
            tally.duplicate(mapping, row)
            continue
        if found.deleted or found.state is None:
            tally.only_in_source(mapping, row, DELETED_IN_STRIPE)
            continue
        differences = []
        for field in mapping.fields:
            try:
                difference = compare_field(field, row.values[field.column], found.state)
            except ConversionProblem as exc:
                raise InputError(
                    f"{source.description} {mapping.where} row {row.line}: column "
                    f"{field.column!r}: {exc} (objects.{mapping.object}.fields.{field.field}."
                    "convert)"
                ) from None
            if difference is not None:
                differences.append(difference)
        tally.compared(mapping, row, differences)
    tally.of(mapping.object).objects = store.count(mapping.object)
    for object_id, state in store.unseen(mapping.object):
        tally.only_in_stripe(mapping, object_id, state)


def reconcile(
    source_spec: str,
    mapping_path: str,
    stripe: StripeSide,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Reconcile and return reconcile.json's content (nothing is written here)."""
    started = datetime.now(UTC)
    mapping = read_mapping(mapping_path)
    target = stripe.target() if stripe.live else None
    source = open_source(source_spec, len(mapping.objects))
    try:
        for objects in mapping.objects:
            source.check(objects)
        store = StripeObjects()
        try:
            if target is not None:
                collections = {o.object: o.collection for o in mapping.objects}
                sent = gather_target(target, collections, store)
                say(f"listed {', '.join(collections.values())} from {target.url} ({sent} pages)")
                gathered = {"kind": "target", "where": target.url, "requests": sent}
            else:
                read = gather_recording(
                    stripe.where,
                    [o.object for o in mapping.objects],
                    store,
                    allow_truncated=stripe.allow_truncated,
                )
                say(f"read {read:,} exchanges of {stripe.where}")
                gathered = {"kind": "recording", "where": stripe.where, "exchanges": read}
            tally = Tally()
            for objects in mapping.objects:
                _compare_rows(source, objects, store, tally)
        finally:
            store.close()
    finally:
        source.close()
    return reconciliation_document(
        tally, mapping, source.description, gathered, started, datetime.now(UTC)
    )


def reconciliation_document(
    tally: Tally,
    mapping: Mapping,
    source: str,
    stripe: dict[str, Any],
    started: datetime,
    finished: datetime,
) -> dict[str, Any]:
    """reconcile.json's content, redacted (a row may hold what should never be shown)."""
    totals = dict.fromkeys(OUTCOMES, 0)
    objects: dict[str, Any] = {}
    for objects_mapping in mapping.objects:
        counts = tally.of(objects_mapping.object)
        for outcome, n in counts.outcomes.items():
            totals[outcome] += n
        objects[objects_mapping.object] = {
            "where": objects_mapping.where,
            "rows": counts.rows,
            "objects": counts.objects,
            "outcomes": counts.outcomes,
            "only_in_source": [
                {"why": why, "count": g.count, "samples": g.samples}
                for why, g in sorted(counts.only_in_source.items())
            ],
            "only_in_stripe": {
                "count": counts.only_in_stripe.count,
                "samples": counts.only_in_stripe.samples,
            },
            "duplicates": {"count": counts.duplicates.count, "samples": counts.duplicates.samples},
        }
    causes = [
        {"object": kind, "field": field, "kind": difference, "count": g.count, "samples": g.samples}
        for (kind, field, difference), g in sorted(
            tally.causes.items(), key=lambda item: (-item[1].count, item[0])
        )
    ]
    return redact_tree(
        {
            "format": FORMAT,
            "version": VERSION,
            "harness": __version__,
            "source": source,
            "mapping": mapping.path,
            "stripe": stripe,
            "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "totals": totals,
            "drift": tally.drift(),
            "objects": objects,
            "causes": causes,
        }
    )


def write_reconciliation(document: dict[str, Any], out: Path, html: str) -> None:
    """reconcile.json and index.html into `out`, each replacing its old self at once."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot make the directory ({exc.strerror})") from None
    with replacing(out / "index.html") as page:
        page.write_text(html, encoding="utf-8")
        write_json_atomically(out / "reconcile.json", document)
