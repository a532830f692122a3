"""Migration mapping files: the old id → new id table a migrated setup hands back (an
account-to-account copy, an import), read and checked before it seeds a target's id map.

Accepted shapes (docs/blueprints.md, "Migrated accounts"):

- CSV `old_id,new_id` with an optional third `type` column and an optional header row;
  with a header, columns may come in any order, and pairs of `<name>_old`/`<name>_new`
  columns (`customer_id_old,source_id_old,customer_id_new,source_id_new`) map one id per
  pair per row;
- JSON `{"old": "new"}`, `[[old, new], …]`, `[{"old_id", "new_id", "type"}, …]`, the
  `<target>.idmap.json` of an earlier run (`{"ids": {…}}`), or the nested output of a
  migration, `{"customers": {"cus_old": {"id": "cus_new", "sources": {…}}}}`.

Every id is checked: a known prefix needs a well-formed id (`cus_` and 8 or more letters
and digits), a value shaped like an id with a prefix Stripe does not use is refused, an
old and a new id must name the same kind of object, and no id may be listed twice.
Anything else (`gold`, `basic-monthly`) is a user-chosen id, as plans and coupons have.
Mistakes are InputErrors starting `FILE:LINE:` (CSV) or `FILE: where:` (JSON).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.formats.untrusted import JSONProblem, load_json
from harness.stripe import (
    CUSTOM_ID_COLLECTIONS,
    ID_PREFIXES,
    NON_OBJECT_PREFIXES,
    id_prefix,
    is_stripe_id,
)

# Column names a header row may give the old and the new id and the type.
OLD_COLUMNS = frozenset({"old_id", "old", "from", "recorded", "recorded_id"})
NEW_COLUMNS = frozenset({"new_id", "new", "to", "target", "target_id"})
TYPE_COLUMNS = frozenset({"type", "object", "kind"})

# Kinds of object a type column may name: what the id prefixes name, plus the objects
# that may carry user-chosen ids.
KNOWN_TYPES = (
    frozenset(ID_PREFIXES.values()) | frozenset(CUSTOM_ID_COLLECTIONS.values()) | {"price"}
)
# Types whose ids may be chosen by the user, so any text is a valid id for them.
CUSTOM_ID_TYPES = frozenset(CUSTOM_ID_COLLECTIONS.values()) | {"price"}
# A plan id is also accepted where a price id is expected: Plans → Prices maps one to the
# other.
_INTERCHANGEABLE = {frozenset({"plan", "price"})}

MAX_ID_LENGTH = 255
# Shaped like a generated Stripe id: a lowercase prefix, `_`, then 8 or more letters and
# digits with a digit or a capital among them.
_ID_SHAPE = re.compile(r"([a-z]{2,12})_(?=[a-z]*[A-Z0-9])[A-Za-z0-9]{8,}")
_BAD_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class MappedId:
    """One row of a mapping: where it was written (`line 3`, `customers.cus_X`), the two
    ids and the optional type."""

    place: str
    old: str
    new: str
    type: str | None = None

    def located(self, file: Path) -> str:
        """`FILE:3` for a CSV line, `FILE: customers.cus_X` for a JSON entry."""
        if self.place.startswith("line "):
            return f"{file}:{self.place[5:]}"
        return f"{file}: {self.place}"


def read_mapping_file(path: str | Path) -> dict[str, str]:
    """The old id → new id mapping a file holds, every row checked (see the module)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{file}: no such id map file") from None
    except IsADirectoryError:
        raise InputError(f"{file}: is a directory, not an id map file") from None
    except UnicodeDecodeError:
        raise InputError(f"{file}: not a text file (expected CSV or JSON)") from None
    except OSError as exc:
        raise InputError(f"{file}: cannot be read ({exc.strerror})") from None
    if file.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
        rows, repeats_allowed = _json_rows(file, text), False
    else:
        rows, repeats_allowed = _csv_rows(file, text)
    return check_mapping(file, rows, repeats_allowed=repeats_allowed)


def check_mapping(
    file: Path, rows: list[MappedId], *, repeats_allowed: bool = False
) -> dict[str, str]:
    """Validate rows and return old → new. `repeats_allowed`: the same pair may appear on
    several rows (a copy's CSV lists a customer once per card)."""
    mapping: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    owner_of: dict[str, str] = {}
    for row in rows:
        where = row.located(file)
        for value in (row.old, row.new):
            problem = id_problem(value, row.type)
            if problem is not None:
                raise InputError(f"{where}: {problem}")
        problem = kind_problem(row.old, row.new)
        if problem is not None:
            raise InputError(f"{where}: {problem}")
        earlier = mapping.get(row.old)
        if earlier is not None:
            if earlier != row.new:
                raise InputError(
                    f"{where}: {row.old} is mapped twice ({earlier} at {first_seen[row.old]}, "
                    f"{row.new} here)"
                )
            if not repeats_allowed:
                raise InputError(
                    f"{where}: {row.old} is listed twice (first at {first_seen[row.old]}); "
                    "keep one row"
                )
            continue
        taken = owner_of.get(row.new)
        if taken is not None:
            raise InputError(
                f"{where}: {row.new} is the new id of both {taken} and {row.old}; "
                "each new object stands for one old one"
            )
        mapping[row.old] = row.new
        first_seen[row.old] = row.place
        owner_of[row.new] = row.old
    return mapping


def id_problem(value: str, kind: str | None = None) -> str | None:
    """What is wrong with `value` as an id in a mapping (of type `kind`), or None."""
    if not value:
        return "an id is empty"
    if len(value) > MAX_ID_LENGTH or _BAD_CHARACTERS.search(value):
        return f"{value[:40]!r} is a malformed id (no spaces or control characters, at most 255)"
    if kind is not None and kind not in KNOWN_TYPES:
        return f"unknown type {kind!r} (e.g. customer, payment_method, card, source, plan, price)"
    if kind in CUSTOM_ID_TYPES and not is_stripe_id(value):
        return None  # a user-chosen plan, coupon or product id may be anything
    prefix = id_prefix(value)
    if value.startswith(prefix + "_") and prefix in ID_PREFIXES:
        if prefix in NON_OBJECT_PREFIXES:
            return f"{value} is a request id; it names no object"
        if not is_stripe_id(value):
            return (
                f"{value} is a malformed id: a {ID_PREFIXES[prefix]} id is {prefix}_ "
                "followed by 8 or more letters and digits"
            )
        resource = ID_PREFIXES[prefix]
        if kind is not None and not _same_kind(resource, kind):
            return f"{value} is a {resource} id, but the type column says {kind}"
        return None
    shaped = _ID_SHAPE.fullmatch(value)
    if shaped is not None:
        return (
            f"{value}: unknown id prefix {shaped.group(1)}_ (Stripe ids start cus_, pm_, "
            "card_, src_, …); if it is a user-chosen id, say which kind in a type column"
        )
    return None


def kind_problem(old: str, new: str) -> str | None:
    """An old and a new id must name the same kind of object."""
    if not (is_stripe_id(old) and is_stripe_id(new)):
        return None
    old_kind, new_kind = ID_PREFIXES[id_prefix(old)], ID_PREFIXES[id_prefix(new)]
    if _same_kind(old_kind, new_kind):
        return None
    return f"{old} is a {old_kind} but {new} is a {new_kind}; a mapping keeps the kind"


def _same_kind(one: str, other: str) -> bool:
    return one == other or frozenset({one, other}) in _INTERCHANGEABLE


# --- CSV ---------------------------------------------------------------------------------


def _csv_rows(file: Path, text: str) -> tuple[list[MappedId], bool]:
    rows: list[MappedId] = []
    columns: _Columns | None = None
    for number, row in _csv_lines(file, text):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if columns is None:
            columns = _header(file, number, cells)
            if columns is not None:
                continue
            columns = _Columns(pairs=((0, 1),), type_column=2 if len(cells) > 2 else None)
        rows.extend(_row(file, number, cells, columns))
    wide = columns is not None and columns.wide
    return rows, wide


def _csv_lines(file: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each CSV row; a row the csv module cannot read (a field
    over its size limit, a stray quote) is an InputError naming the line."""
    reader = csv.reader(text.splitlines())
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = str(exc)
            if "field limit" in problem:
                problem = (
                    f"a field longer than {csv.field_size_limit()} characters; an id is at "
                    f"most {MAX_ID_LENGTH}"
                )
            raise InputError(f"{file}:{reader.line_num}: not valid CSV ({problem})") from None
        yield reader.line_num, row


@dataclass(frozen=True, slots=True)
class _Columns:
    pairs: tuple[tuple[int, int], ...]  # (old column, new column)
    type_column: int | None = None
    wide: bool = False  # `<name>_old`/`<name>_new` pairs: a row may repeat a pair


def _header(file: Path, number: int, cells: list[str]) -> _Columns | None:
    """The columns a header row names, or None when the first row is data."""
    names = [cell.lower() for cell in cells]
    old = [i for i, name in enumerate(names) if name in OLD_COLUMNS]
    new = [i for i, name in enumerate(names) if name in NEW_COLUMNS]
    kind = [i for i, name in enumerate(names) if name in TYPE_COLUMNS]
    if len(old) == 1 and len(new) == 1:
        return _Columns(pairs=((old[0], new[0]),), type_column=kind[0] if kind else None)
    wide: list[tuple[int, int]] = []
    for index, name in enumerate(names):
        partner = None
        if name.endswith("_old"):
            partner = name.removesuffix("_old") + "_new"
        elif name.startswith("old_"):
            partner = "new_" + name.removeprefix("old_")
        if partner is not None and partner in names:
            wide.append((index, names.index(partner)))
    if wide:
        return _Columns(pairs=tuple(wide), wide=True)
    if any(name in OLD_COLUMNS | NEW_COLUMNS | TYPE_COLUMNS for name in names):
        raise InputError(
            f"{file}:{number}: header {','.join(cells)}: expected old_id,new_id[,type] "
            "(or pairs of <name>_old,<name>_new columns)"
        )
    return None


def _row(file: Path, number: int, cells: list[str], columns: _Columns) -> list[MappedId]:
    where = f"line {number}"
    found: list[MappedId] = []
    kind = None
    if columns.type_column is not None and columns.type_column < len(cells):
        kind = cells[columns.type_column].lower() or None
    for old_column, new_column in columns.pairs:
        old = cells[old_column] if old_column < len(cells) else ""
        new = cells[new_column] if new_column < len(cells) else ""
        if columns.wide and not old and not new:
            continue  # a customer without a card in a copy's mapping
        if not old or not new:
            raise InputError(f"{file}:{number}: expected old_id,new_id")
        found.append(MappedId(where, old, new, kind))
    return found


# --- JSON --------------------------------------------------------------------------------


def _json_rows(file: Path, text: str) -> list[MappedId]:
    try:
        data = load_json(text, unique_keys=True)
    except JSONProblem as exc:
        raise InputError(exc.located(file)) from None
    if isinstance(data, dict) and isinstance(data.get("ids"), dict):
        data = data["ids"]  # an earlier run's <target>.idmap.json
    if isinstance(data, list):
        return _json_list(file, data)
    if not isinstance(data, dict):
        raise InputError(f"{file}: expected an object of old_id → new_id")
    if data and all(isinstance(value, dict) for value in data.values()):
        rows: list[MappedId] = []
        _nested(file, data, "", rows)
        return rows
    rows = []
    for old, new in data.items():
        _strings(file, repr(old), old, new)
        rows.append(MappedId(old, old, new))
    return rows


def _strings(file: Path, where: str, old: Any, new: Any) -> None:
    if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
        raise InputError(f"{file}: {where}: ids must be non-empty strings")


def _json_list(file: Path, data: list[Any]) -> list[MappedId]:
    rows: list[MappedId] = []
    for index, item in enumerate(data):
        kind = None
        if isinstance(item, dict) and "old_id" in item and "new_id" in item:
            old, new, kind = item["old_id"], item["new_id"], item.get("type")
        elif isinstance(item, list) and len(item) == 2:
            old, new = item
        else:
            raise InputError(f"{file}: [{index}]: expected [old_id, new_id] or {{old_id, new_id}}")
        _strings(file, f"[{index}]", old, new)
        if kind is not None and not isinstance(kind, str):
            raise InputError(f"{file}: [{index}].type: expected a string")
        rows.append(MappedId(f"[{index}]", old, new, kind))
    return rows


def _nested(file: Path, collections: dict[str, Any], where: str, rows: list[MappedId]) -> None:
    """`{"customers": {"cus_old": {"id": "cus_new", "sources": {…}}}}`: each collection maps
    old ids to objects holding the new `id` and, nested, their own collections."""
    for collection, objects in collections.items():
        place = f"{where}.{collection}" if where else collection
        if not isinstance(objects, dict):
            raise InputError(f"{file}: {place}: expected an object of old id → {{id: new id}}")
        for old, entry in objects.items():
            here = f"{place}.{old}"
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise InputError(f'{file}: {here}: expected {{"id": new id, …}}')
            _strings(file, here, old, entry["id"])
            rows.append(MappedId(here, old, entry["id"]))
            nested = {
                key: value
                for key, value in entry.items()
                if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())
            }
            if nested:
                _nested(file, nested, here, rows)
