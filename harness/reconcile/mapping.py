"""MAPPING.yaml: where the customer's system keeps each Stripe object type, and how its
values turn into Stripe's (docs/reconcile.md has a full example).

    version: 1
    objects:
      subscription:                  # Stripe's object name
        table: subscriptions         # or `query: SELECT ...` (a database only)
        stripe_id: stripe_id         # the column holding the Stripe id
        key: id                      # the row's own key, shown in samples (optional)
        fields:                      # Stripe field (dotted for nested) → column
          customer: stripe_customer
          status: {column: state, values: {ACTIVE: active, CANCELED: canceled}}
          current_period_end: {column: renews_at, convert: timestamp}

A mistake is one InputError line: the file, the line, the field and what to write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import InputError, NotRegistered
from harness.formats.untrusted import YAMLLoader, load_yaml, yaml_problem
from harness.reconcile.convert import CONVERSIONS, ConversionOptions

MAPPING_VERSION = 1
_OBJECT_NAME = re.compile(r"^[a-z][a-z0-9_.]*$")
_OBJECT_KEYS = {"table", "query", "stripe_id", "key", "collection", "fields"}
_FIELD_KEYS = {"column", "convert", "exponent", "timezone", "values"}


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One compared field: Stripe's path (`status`, `items.data.0.price.id`), the source
    column, and how the column's value converts."""

    field: str
    column: str
    convert: str | None
    options: ConversionOptions

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.field.split("."))


@dataclass(frozen=True, slots=True)
class ObjectMapping:
    """Where one Stripe object type lives in the customer's system."""

    object: str
    table: str | None
    query: str | None
    stripe_id: str
    key: str | None
    collection: str
    fields: tuple[FieldMapping, ...]

    @property
    def where(self) -> str:
        """How messages name the rows: the table, or the object's query."""
        return self.table if self.table is not None else f"the query of {self.object}"

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns read, each once, in the order first named."""
        named = [
            self.stripe_id,
            *([self.key] if self.key else []),
            *(f.column for f in self.fields),
        ]
        return tuple(dict.fromkeys(named))


@dataclass(frozen=True, slots=True)
class Mapping:
    path: str
    objects: tuple[ObjectMapping, ...]

    def by_object(self) -> dict[str, ObjectMapping]:
        return {o.object: o for o in self.objects}


class _Located:
    """The line of each place in the YAML document, for messages."""

    def __init__(self, text: str) -> None:
        loader = YAMLLoader(text)
        try:
            self._root = loader.get_single_node()  # type: ignore[no-untyped-call]
        finally:
            loader.dispose()  # type: ignore[no-untyped-call]

    def line(self, where: tuple[str, ...]) -> int | None:
        node = self._root
        line = node.start_mark.line + 1 if node is not None else None
        for step in where:
            if not isinstance(node, yaml.MappingNode):
                break
            found = next((v for k, v in node.value if k.value == step), None)
            if found is None:
                key = next((k for k, _ in node.value if k.value == step), None)
                return key.start_mark.line + 1 if key is not None else line
            node = found
            line = node.start_mark.line + 1
        return line


class _Reader:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.located = _Located(text)

    def problem(self, where: tuple[str, ...], what: str) -> InputError:
        line = self.located.line(where)
        place = f"{self.path}:{line}" if line is not None else self.path
        return InputError(f"{place}: {'.'.join(where)}: {what}")

    def text(self, value: Any, where: tuple[str, ...]) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.problem(where, "give a name (text)")
        return value

    def field(self, name: str, spec: Any, where: tuple[str, ...]) -> FieldMapping:
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict):
            raise self.problem(where, "give a column name, or {column: ..., convert: ...}")
        unknown = sorted(set(spec) - _FIELD_KEYS)
        if unknown:
            raise self.problem(
                (*where, unknown[0]), f"unknown key; a field has {', '.join(sorted(_FIELD_KEYS))}"
            )
        column = self.text(spec.get("column"), (*where, "column"))
        convert = spec.get("convert")
        if convert is not None:
            try:
                CONVERSIONS.named(self.text(convert, (*where, "convert")))
            except NotRegistered as exc:
                raise self.problem((*where, "convert"), str(exc)) from None
        exponent = spec.get("exponent", 2)
        if isinstance(exponent, bool) or not isinstance(exponent, int) or not 0 <= exponent <= 4:
            raise self.problem((*where, "exponent"), "give 0 to 4 (2 for cents, 0 for yen)")
        timezone = self.text(spec.get("timezone", "UTC"), (*where, "timezone"))
        values = spec.get("values", {})
        if not isinstance(values, dict):
            raise self.problem((*where, "values"), "give the source's words → Stripe's, a map")
        return FieldMapping(
            name, column, convert, ConversionOptions(exponent, timezone, dict(values))
        )

    def object(self, name: str, spec: Any) -> ObjectMapping:
        where = ("objects", name)
        if not _OBJECT_NAME.match(name):
            raise self.problem(where, "an object type is Stripe's name for it (subscription)")
        if not isinstance(spec, dict):
            raise self.problem(where, "give table (or query), stripe_id and fields")
        unknown = sorted(set(spec) - _OBJECT_KEYS)
        if unknown:
            raise self.problem(
                (*where, unknown[0]),
                f"unknown key; an object has {', '.join(sorted(_OBJECT_KEYS))}",
            )
        if ("table" in spec) == ("query" in spec):
            raise self.problem(where, "give exactly one of table and query")
        table = self.text(spec["table"], (*where, "table")) if "table" in spec else None
        query = self.text(spec["query"], (*where, "query")) if "query" in spec else None
        fields = spec.get("fields") or {}
        if not isinstance(fields, dict):
            raise self.problem((*where, "fields"), "give Stripe field → column, a map")
        key = spec.get("key")
        return ObjectMapping(
            object=name,
            table=table,
            query=query,
            stripe_id=self.text(spec.get("stripe_id"), (*where, "stripe_id")),
            key=self.text(key, (*where, "key")) if key is not None else None,
            collection=self.text(spec.get("collection", name + "s"), (*where, "collection")),
            fields=tuple(
                self.field(str(f), s, (*where, "fields", str(f))) for f, s in fields.items()
            ),
        )


def read_mapping(path: str | Path) -> Mapping:
    """MAPPING.yaml read and checked whole, or one InputError line."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{shown}: no such mapping file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{shown}: cannot read the mapping ({exc})") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise InputError(yaml_problem(exc, shown, text)) from None
    reader = _Reader(shown, text)
    if not isinstance(data, dict):
        raise reader.problem((), "a mapping is a YAML map with version and objects")
    unknown = sorted(set(data) - {"version", "objects"})
    if unknown:
        raise reader.problem((unknown[0],), "unknown key; a mapping has version and objects")
    if data.get("version") != MAPPING_VERSION:
        raise reader.problem(("version",), f"this harness reads mapping version {MAPPING_VERSION}")
    objects = data.get("objects")
    if not isinstance(objects, dict) or not objects:
        raise reader.problem(("objects",), "name at least one Stripe object type")
    return Mapping(shown, tuple(reader.object(str(n), s) for n, s in objects.items()))
