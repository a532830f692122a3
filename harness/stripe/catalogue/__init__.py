"""Stripe's objects per API version, generated from Stripe's own SDK releases: the fields
of every object type with their JSON type, which are Unix timestamps, which are
expandable references and to what, which may be null, enum values, id prefixes, and the
parameters of every endpoint (docs/catalogue.md).

One gzip-compressed JSON file per major API version is shipped in data/, written by
`python -m harness.stripe.catalogue build` (harness.stripe.catalogue.build) from the
`stripe` release that first pinned that version. This module reads them; each file is
read once per process and each object type parsed once, on first use.

A field's type is written in a small notation, one string per field:

    str  int  num  bool  any  obj     JSON scalars, anything, an object of free shape
    time                              an integer that is a Unix time in seconds
    enum(a|b|c)                       a string, one of the values
    ref(customer|account)             an id, expandable into an object of those types
    obj(invoice#StatusTransitions)    an embedded object of that type
    list(line_item)                   a list object ({"object": "list", "data": [...]})
    arr<T>  map<T>                    a JSON array of T; an object whose values are T
    T?                                may be null

Nested object types are named after their object and the SDK's class path
(`invoice#Parent.SubscriptionDetails`).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import InputError
from harness.stripe import id_pattern

if TYPE_CHECKING:
    from harness.model import Exchange

DATA = Path(__file__).parent / "data"
SUFFIX = ".json.gz"

# Stripe's changelog has a page per major version (`…/changelog/basil`).
CHANGELOG = "https://docs.stripe.com/changelog/{name}"

_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.([a-z]+))?$")

JSON_TYPES = {
    "str": "string",
    "enum": "string",
    "ref": "string",
    "int": "integer",
    "time": "integer",
    "num": "number",
    "bool": "boolean",
    "obj": "object",
    "list": "object",
    "map": "object",
    "arr": "array",
    "any": "any",
}


@dataclass(frozen=True, slots=True)
class FieldType:
    """One field's type, parsed from the notation in the module docstring."""

    kind: str  # str int num bool time any obj enum ref list arr map
    nullable: bool = False
    names: tuple[str, ...] = ()  # enum values; object types of ref, obj and list
    inner: FieldType | None = None  # the element of arr and map

    @property
    def json_type(self) -> str:
        return JSON_TYPES[self.kind]

    @property
    def is_timestamp(self) -> bool:
        return self.kind == "time"

    def __str__(self) -> str:
        if self.kind in ("arr", "map"):
            text = f"{self.kind}<{self.inner}>"
        elif self.names:
            text = f"{self.kind}({'|'.join(self.names)})"
        else:
            text = self.kind
        return text + ("?" if self.nullable else "")

    def objects(self) -> tuple[str, ...]:
        """The object types a value of this field (or its elements) is described by."""
        if self.kind in ("obj", "list"):
            return self.names
        if self.inner is not None:
            return self.inner.objects()
        return ()


def parse_field_type(text: str) -> FieldType:
    """`arr<ref(discount)>?` → an array of discount references, or null (ValueError for
    anything the notation does not define)."""
    nullable = text.endswith("?")
    body = text[:-1] if nullable else text
    for head in ("arr", "map"):
        if body.startswith(head + "<") and body.endswith(">"):
            return FieldType(head, nullable, (), parse_field_type(body[len(head) + 1 : -1]))
    head, bracket, rest = body.partition("(")
    if bracket:
        if not rest.endswith(")") or head not in ("enum", "ref", "obj", "list"):
            raise ValueError(f"not a field type: {text!r}")
        return FieldType(head, nullable, tuple(rest[:-1].split("|")))
    if body not in JSON_TYPES:
        raise ValueError(f"not a field type: {text!r}")
    return FieldType(body, nullable)


@dataclass(frozen=True, slots=True)
class ObjectType:
    """One object type of one API version, with the sets normalisation asks for."""

    name: str
    id_prefix: str | None
    fields: dict[str, FieldType]
    timestamps: frozenset[str]
    references: frozenset[str]
    # Field → the object type describing an object (or each object of an array) in it,
    # for the embedded objects that carry no `object` of their own.
    children: dict[str, str]


def _object_type(name: str, raw: dict[str, Any]) -> ObjectType:
    fields = {field: parse_field_type(text) for field, text in raw["fields"].items()}
    children = {}
    for field, kind in fields.items():
        element = kind.inner if kind.kind == "arr" and kind.inner is not None else kind
        if element.kind == "obj" and len(element.names) == 1:
            children[field] = element.names[0]
    return ObjectType(
        name=name,
        id_prefix=raw.get("id_prefix"),
        fields=fields,
        timestamps=frozenset(f for f, kind in fields.items() if kind.kind == "time"),
        references=frozenset(f for f, kind in fields.items() if kind.kind == "ref"),
        children=children,
    )


class Catalogue:
    """The catalogue of one API version, read from its shipped (or given) file."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.api_version: str = data["api_version"]
        self.sdk: str = data.get("sdk", "")
        self.raw_types: dict[str, Any] = data["types"]
        self.endpoints: dict[str, Any] = data["endpoints"]
        self._types: dict[str, ObjectType | None] = {}
        self.id_prefixes: frozenset[str] = frozenset(
            raw["id_prefix"] for raw in self.raw_types.values() if raw.get("id_prefix")
        )

    @cached_property
    def id_pattern(self) -> re.Pattern[str]:
        """Ids of this version: harness.stripe's prefixes and this catalogue's."""
        return id_pattern(self.id_prefixes)

    @property
    def name(self) -> str:
        """The major version's name (`basil`)."""
        return version_name(self.api_version) or self.api_version

    def object_type(self, name: str) -> ObjectType | None:
        """The object type called `name` (`invoice`, `invoice#StatusTransitions`), or None
        when this version has none: parsed once, then a dict lookup."""
        found = self._types.get(name, _UNSEEN)
        if found is _UNSEEN:
            raw = self.raw_types.get(name)
            found = _object_type(name, raw) if raw is not None else None
            self._types[name] = found
        return found  # type: ignore[return-value]

    def field(self, object_type: str, path: tuple[str, ...]) -> FieldType | None:
        """The type of the field at `path` inside an object of `object_type`
        (`("parent", "subscription_details", "subscription")` in an invoice), following
        embedded objects; None when this version has no such field."""
        current = self.object_type(object_type)
        kind: FieldType | None = None
        for index, name in enumerate(path):
            if current is None:
                return None
            kind = current.fields.get(name)
            if kind is None:
                return None
            if index + 1 < len(path):
                objects = kind.objects()
                current = self.object_type(objects[0]) if len(objects) == 1 else None
        return kind

    def field_paths(self, object_type: str, depth: int = 4) -> dict[tuple[str, ...], FieldType]:
        """Every field of an object type and of the objects embedded in it (not other
        resources), by path, up to `depth` levels."""
        paths: dict[tuple[str, ...], FieldType] = {}

        def walk(name: str, prefix: tuple[str, ...]) -> None:
            current = self.object_type(name)
            if current is None or len(prefix) >= depth:
                return
            for field, kind in current.fields.items():
                path = (*prefix, field)
                paths[path] = kind
                objects = kind.objects()
                if len(objects) == 1 and "#" in objects[0]:
                    walk(objects[0], path)

        walk(object_type, ())
        return paths

    def endpoint(self, template: str) -> dict[str, Any] | None:
        """An endpoint by its shape (`POST /v1/customers/{}`)."""
        found = self.endpoints.get(template)
        return found if isinstance(found, dict) else None


_UNSEEN: Any = object()


def version_date(version: str) -> str:
    """`2025-03-31.basil` → `2025-03-31`."""
    return version.split(".", 1)[0]


def version_name(version: str) -> str | None:
    """`2025-03-31.basil` → `basil`; None for a version of no name (`2020-08-27`)."""
    match = _VERSION.match(version.strip())
    return match.group(2) if match else None


def changelog_url(version: str) -> str:
    """Stripe's changelog page for a (major) version."""
    return CHANGELOG.format(name=version_name(version) or version_date(version))


def shipped_versions() -> list[str]:
    """The API versions a catalogue is shipped for, oldest first."""
    return sorted((path.name[: -len(SUFFIX)] for path in DATA.glob("*" + SUFFIX)), key=version_date)


def read_catalogue_file(path: Path) -> Catalogue:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return Catalogue(json.load(file))


@cache
def catalogue(version: str) -> Catalogue:
    """The shipped catalogue of exactly `version` (one of shipped_versions())."""
    path = DATA / f"{version}{SUFFIX}"
    if not path.is_file():
        raise InputError(
            f"no catalogue for API version {version} (shipped: "
            f"{', '.join(shipped_versions()) or 'none'}; README: adding an API version)"
        )
    return read_catalogue_file(path)


@cache
def catalogue_for(version: str | None) -> Catalogue | None:
    """The catalogue that describes answers made under `version`: the shipped one of its
    major version (`2026-10-28.endive` → `2026-09-30.endive`: the monthly releases
    between majors break nothing). None for no version or one no catalogue covers
    (older than the oldest shipped, or newer than the newest)."""
    if not version:
        return None
    name = version_name(version)
    if name is None:
        return None
    for shipped in shipped_versions():
        if version_name(shipped) == name and version_date(shipped) <= version_date(version):
            return catalogue(shipped)
    return None


def answer_version(exchange: Exchange, default: str | None = None) -> str | None:
    """The API version an answer was made under: the `Stripe-Version` its request sent,
    else the one Stripe's answer names, else `default` (the account's default version, as
    a recording's header records it)."""
    found = exchange.request.header("stripe-version")
    if not found and exchange.response is not None:
        found = exchange.response.header("stripe-version")
    return found.strip() if found else default


def resolve_version(version: str) -> str:
    """The shipped version that covers `version`, or an InputError naming the choices."""
    found = catalogue_for(version)
    if found is None:
        raise InputError(
            f"{version}: no catalogue covers this API version (shipped: "
            f"{', '.join(shipped_versions())}); a version is YYYY-MM-DD.name, and README "
            "says how to add one"
        )
    return found.api_version
