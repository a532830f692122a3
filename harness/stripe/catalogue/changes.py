"""What changes for a field, a parameter or an endpoint between two API versions, and in
which version it changed: the catalogue diff the upgrade check and `expect_upgrade`
read (pure, cached per question).

The shipped catalogues are stepped through in order, so a field removed in basil and
looked at between acacia and endive is "removed in 2025-03-31.basil". Going back (a
candidate on an older version than its baseline) the same field is "added in
2025-03-31.basil, so not in 2024-09-30.acacia".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from harness.stripe.catalogue import (
    Catalogue,
    FieldType,
    catalogue,
    catalogue_for,
    changelog_url,
    shipped_versions,
    version_date,
)

REMOVED = "removed"
ADDED = "added"
MOVED = "moved"
RETYPED = "retyped"
VALUES = "values"  # an enum's values changed


@dataclass(frozen=True, slots=True)
class Change:
    """One change between two versions: what, its kind, the version that made it."""

    subject: str  # `invoice.subscription`, `POST /v1/payment_intents payment_method_types`
    kind: str  # REMOVED ADDED MOVED RETYPED VALUES
    version: str  # the shipped version that made the change
    backwards: bool = False  # the comparison goes from a newer version to an older one
    old: str | None = None  # the field's type before (notation), or enum values
    new: str | None = None
    moved_to: str | None = None

    def describe(self) -> str:
        """`removed in 2025-03-31.basil`, `moved to parent.subscription_details.subscription
        in 2025-03-31.basil`, `retyped from int to obj(…) in …`."""
        if self.backwards and self.kind == REMOVED:
            return f"removed in {self.version} (older versions still answer it)"
        if self.backwards and self.kind == ADDED:
            return f"added in {self.version} (older versions do not answer it)"
        if self.kind == MOVED:
            return f"moved to {self.moved_to} in {self.version}"
        if self.kind == RETYPED:
            return f"retyped from {self.old} to {self.new} in {self.version}"
        if self.kind == VALUES:
            old, new = self.old_values, self.new_values
            dropped = [v for v in old if v not in new]
            added = [v for v in new if v not in old]
            said = [f"no longer {_some(dropped)}"] if dropped else []
            said += [f"now also {_some(added)}"] if added else []
            return f"values changed in {self.version}: {'; '.join(said)}"
        return f"{self.kind} in {self.version}"

    @property
    def old_values(self) -> tuple[str, ...]:
        """An enum's values in the source version (VALUES only)."""
        return tuple(self.old.split("|")) if self.kind == VALUES and self.old else ()

    @property
    def new_values(self) -> tuple[str, ...]:
        """An enum's values in the target version (VALUES only)."""
        return tuple(self.new.split("|")) if self.kind == VALUES and self.new else ()

    @property
    def effect(self) -> str:
        """What going from the source version to the target does: REMOVED, ADDED, RETYPED
        or VALUES (a field removed in a version is added going back to an older one)."""
        if self.kind in (REMOVED, MOVED):
            return ADDED if self.backwards else REMOVED
        if self.kind == ADDED:
            return REMOVED if self.backwards else ADDED
        return self.kind

    @property
    def url(self) -> str:
        return changelog_url(self.version)

    def reason(self) -> str:
        """The sentence an expected difference carries: what, and Stripe's changelog."""
        return f"{self.describe()} (Stripe changelog: {self.url})"

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "version": self.version,
            "change": self.describe(),
            "changelog": self.url,
        }


def _some(values: list[str], shown: int = 6) -> str:
    more = len(values) - shown
    return ", ".join(values[:shown]) + (f" and {more} more" if more > 0 else "")


def _steps(from_version: str, to_version: str) -> tuple[list[Catalogue], bool] | None:
    """The shipped catalogues from one version's to the other's, oldest first, and
    whether the comparison goes backwards; None when either has no catalogue or both
    have the same."""
    start, end = catalogue_for(from_version), catalogue_for(to_version)
    if start is None or end is None or start is end:
        return None
    backwards = version_date(start.api_version) > version_date(end.api_version)
    low, high = sorted((start.api_version, end.api_version), key=version_date)
    chosen = [
        v for v in shipped_versions() if version_date(low) <= version_date(v) <= version_date(high)
    ]
    return [catalogue(v) for v in chosen], backwards


def _json_type(kind: FieldType | None) -> str | None:
    return None if kind is None else kind.json_type


@lru_cache(maxsize=65_536)
def field_change(
    object_type: str, path: tuple[str, ...], from_version: str, to_version: str
) -> Change | None:
    """How the field at `path` of an `object_type` differs between the two versions'
    answers (None: it does not, or no catalogue covers one of them)."""
    steps = _steps(from_version, to_version)
    if steps is None:
        return None
    chain, backwards = steps
    first, last = chain[0].field(object_type, path), chain[-1].field(object_type, path)
    subject = ".".join((object_type, *path))
    if first is None and last is None:
        return None
    for older, newer in itertools.pairwise(chain):
        before, after = older.field(object_type, path), newer.field(object_type, path)
        if before is not None and after is None and last is None:
            moved = _moved_to(newer, older, object_type, path)
            kind = MOVED if moved and not backwards else REMOVED
            return Change(subject, kind, newer.api_version, backwards, moved_to=moved)
        if before is None and after is not None and first is None:
            return Change(subject, ADDED, newer.api_version, backwards)
        if (
            before is not None
            and after is not None
            and first is not None
            and last is not None
            and _json_type(before) != _json_type(after)
            and _json_type(first) != _json_type(last)
        ):
            old, new = (str(after), str(before)) if backwards else (str(before), str(after))
            return Change(subject, RETYPED, newer.api_version, False, old, new)
    if (
        first is not None
        and last is not None
        and first.kind == last.kind == "enum"
        and first.names != last.names
    ):
        return _values_change(subject, chain, object_type, path, backwards)
    return None


def _values_change(
    subject: str,
    chain: list[Catalogue],
    object_type: str,
    path: tuple[str, ...],
    backwards: bool,
) -> Change:
    """An enum whose values differ between the two ends: old and new values, and the
    version that dropped one of the source's values (else the first that changed any)."""
    source, target = (chain[-1], chain[0]) if backwards else (chain[0], chain[-1])
    old, new = source.field(object_type, path), target.field(object_type, path)
    assert old is not None and new is not None
    made_in = None
    for older, newer in itertools.pairwise(chain):
        before, after = older.field(object_type, path), newer.field(object_type, path)
        if before is None or after is None or before.names == after.names:
            continue
        made_in = made_in or newer.api_version
        if not set(before.names) <= set(after.names):
            made_in = newer.api_version
            if not backwards:
                break
    return Change(
        subject,
        VALUES,
        made_in or target.api_version,
        False,
        "|".join(old.names),
        "|".join(new.names),
    )


def _moved_to(
    newer: Catalogue, older: Catalogue, object_type: str, path: tuple[str, ...]
) -> str | None:
    """Where a removed field went: a path of the same name the newer version added inside
    the same object (`parent.subscription_details.subscription`), else a field of that
    name it added to an object embedded in it (`subscription_item.current_period_end`
    for a subscription's items)."""
    name = path[-1]
    before = older.field_paths(object_type)
    for candidate in newer.field_paths(object_type):
        if candidate[-1] == name and candidate != path and candidate not in before:
            return ".".join(candidate)
    described = newer.object_type(object_type)
    if described is None:
        return None
    for kind in described.fields.values():
        for embedded in kind.objects():
            if "#" in embedded or embedded == object_type:
                continue
            if (
                newer.field(embedded, (name,)) is not None
                and older.field(embedded, (name,)) is None
            ):
                return f"{embedded}.{name}"
    return None


def _param_tree(version: Catalogue, endpoint: str) -> dict[str, Any] | None:
    found = version.endpoint(endpoint)
    return found.get("params") if found is not None else None


def _has_param(tree: dict[str, Any] | None, path: tuple[str, ...]) -> bool:
    node: Any = tree
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
    return True


@lru_cache(maxsize=65_536)
def endpoint_change(endpoint: str, from_version: str, to_version: str) -> Change | None:
    """An endpoint (`GET /v1/invoices/upcoming`, placeholders `{}`) the target version no
    longer has (or, going back, does not have yet)."""
    steps = _steps(from_version, to_version)
    if steps is None:
        return None
    chain, backwards = steps
    source = chain[-1] if backwards else chain[0]
    target = chain[0] if backwards else chain[-1]
    if source.endpoint(endpoint) is None or target.endpoint(endpoint) is not None:
        return None
    for older, newer in itertools.pairwise(chain):
        present = (older.endpoint(endpoint) is not None, newer.endpoint(endpoint) is not None)
        if present == ((True, False) if not backwards else (False, True)):
            return Change(endpoint, ADDED if backwards else REMOVED, newer.api_version, backwards)
    return None


@lru_cache(maxsize=65_536)
def parameter_change(
    endpoint: str, path: tuple[str, ...], from_version: str, to_version: str
) -> Change | None:
    """A request parameter the endpoint takes in the source version and no longer takes
    in the target one (removed or renamed: the SDK does not say which)."""
    steps = _steps(from_version, to_version)
    if steps is None:
        return None
    chain, backwards = steps
    ordered = list(reversed(chain)) if backwards else chain
    if not _has_param(_param_tree(ordered[0], endpoint), path):
        return None
    if _param_tree(ordered[-1], endpoint) is None or _has_param(
        _param_tree(ordered[-1], endpoint), path
    ):
        return None
    for older, newer in itertools.pairwise(ordered):
        if _has_param(_param_tree(older, endpoint), path) and not _has_param(
            _param_tree(newer, endpoint), path
        ):
            made_in = newer.api_version if not backwards else older.api_version
            subject = f"{endpoint} {'.'.join(path)}"
            return Change(subject, ADDED if backwards else REMOVED, made_in, backwards)
    return None
