"""The id map of one target: recorded id → target id, learnt by walking each recorded
response together with the target's answer to the same request, and seeded from a
migration mapping file (CSV `old_id,new_id` or JSON).

Learning never overwrites: the first pairing of an id wins and no target id is given to
two recorded ids. Items of lists are paired by what is known of them, never by position
(harness.replay.idmap._align), so a list whose items came back in another order, or with
an item more or less, teaches no wrong pair.
Client secrets are paired too, but kept in memory only: they never reach the id map file.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.formats.mapping import read_mapping_file
from harness.formats.untrusted import response_json
from harness.model import Response
from harness.pairstore import PairStore
from harness.replay.rewrite import CUSTOM_ID_FIELDS, NOT_ID_FIELDS
from harness.scenario import TargetSpec
from harness.stripe import (
    ID_PREFIXES,
    NON_OBJECT_PREFIXES,
    TIMESTAMP_FIELDS,
    VOLATILE_FIELDS,
    id_prefix,
    is_account_id,
    is_generated_id,
    is_id_shaped,
    is_stripe_id,
)
from harness.stripe.times import is_calendar_time

_SCALARS = frozenset({int, float, bool})


def _resource(value: str) -> str:
    prefix = id_prefix(value)
    return ID_PREFIXES.get(prefix, prefix)


# Client secrets kept (the latest learnt): a secret is used within the journey of its
# object, seconds or minutes after its answer, never a recording later.
SECRETS_KEPT = 10_000
# Times kept (the latest learnt): a request copies a time from an answer it just had
# (`cancel_at` = the period's end, `created[gt]` = a charge's creation).
TIMES_KEPT = 10_000


def _keep_latest(kept: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Set `key` as the most recent entry of `kept`, forgetting the older half at `limit`."""
    kept.pop(key, None)
    if len(kept) >= limit:
        for oldest in list(itertools.islice(kept, limit // 2)):
            del kept[oldest]
    kept[key] = value


class IdMap:
    """Recorded id → target id for one target (see the module docstring). The pairs move
    to a file of their own once there are many (harness.pairstore); the client secrets
    stay in memory, the latest SECRETS_KEPT of them."""

    def __init__(self, seeds: dict[str, str] | None = None) -> None:
        self.ids = PairStore((seeds or {}).items())
        self._secrets: dict[str, str] = {}
        self._times: dict[int, int] = {}
        # The recorded times worth learning (those a request holds: Plan.times); None: all.
        self._wanted_times: frozenset[int] | None = None
        self.learnt = 0

    def get(self, recorded: str) -> str | None:
        return self.ids.get(recorded)

    def secret(self, recorded: str) -> str | None:
        return self._secrets.get(recorded)

    def time(self, recorded: int) -> int | None:
        """The target's time for a time the recording showed in an answer at the same place
        (the latest such answer), if one was learnt."""
        return self._times.get(recorded)

    def only_times(self, wanted: frozenset[int] | None) -> None:
        """Learn from now on only the times in `wanted` (None: every time), and forget
        the others learnt so far. Given the times the recording's requests hold (a plan's
        `times`), this changes no request: a time is looked up only where a request
        holds it. It keeps fewer times, and lets `teaches` pass over most answers."""
        self._wanted_times = wanted
        if wanted is not None:
            self._times = {key: value for key, value in self._times.items() if key in wanted}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, recorded: object) -> bool:
        return recorded in self.ids

    def pair(self, recorded: str, target: str) -> bool:
        """Record recorded → target unless either side is already paired."""
        if not self.ids.add(recorded, target):
            return False
        self.learnt += 1
        return True

    def _keep_secret(self, recorded: str, replayed: str) -> None:
        if recorded not in self._secrets:
            _keep_latest(self._secrets, recorded, replayed, SECRETS_KEPT)

    def close(self) -> None:
        """Remove the file the pairs moved to, if they did."""
        self.ids.close()

    def learn_responses(self, recorded: Response | None, replayed: Response | None) -> int:
        """Learn from a recorded response and the target's answer to the same request.
        The target's answer is parsed and walked only when the recorded one `teaches`
        something: most answers name ids paired already and no time a request holds."""
        tree = response_json(recorded)
        if tree is None or not self.teaches(tree):
            return 0
        return self.learn(tree, response_json(replayed))

    def learn(self, recorded: Any, replayed: Any) -> int:
        """Walk two parsed JSON bodies together; returns how many ids were learnt."""
        before = self.learnt
        if recorded is not None and replayed is not None:
            self._walk(recorded, replayed, None)
        return self.learnt - before

    def teaches(self, recorded: Any) -> bool:
        """False when walking the parsed recorded answer `recorded` beside any answer at
        all would change nothing here (no pair, secret or time learnt): what `_walk`
        could pair is paired already, every client secret is kept, and no time in it is
        one worth learning. It looks at the recorded side alone, as `_walk` goes through
        it (tests/test_idmap_teaches.py holds the two to each other)."""
        kind = type(recorded)
        if kind is dict:
            for name, value in recorded.items():
                kind = type(value)
                if kind is str:
                    if name not in NOT_ID_FIELDS and self._may_learn(value, name):
                        return True
                elif kind is int:
                    if (name in TIMESTAMP_FIELDS or name.endswith("_at")) and self._wants_time(
                        value
                    ):
                        return True
                elif (
                    value is not None
                    and kind not in _SCALARS
                    and name not in NOT_ID_FIELDS
                    and self._teaches_under(value, name)
                ):
                    return True
            return False
        return self._teaches_under(recorded, None)

    def _teaches_under(self, recorded: Any, key: str | None) -> bool:
        """`teaches` for a value found under `key` (lists keep their field's name)."""
        if type(recorded) is dict:
            return self.teaches(recorded)
        if type(recorded) is list:
            return any(self._teaches_under(item, key) for item in recorded)
        if type(recorded) is str:
            return self._may_learn(recorded, key)
        return False

    def _may_learn(self, recorded: str, key: str | None) -> bool:
        """Whether `_walk` could learn from the text `recorded` found under `key`: keep it
        as a client secret, or pair it (by `_ids`, beside a text or an expanded object)."""
        if key == "client_secret":
            return recorded not in self._secrets
        if not recorded or self.ids.get(recorded) is not None:
            return False  # _ids lets it go at once
        if key == "id" or "_" in recorded or key in CUSTOM_ID_FIELDS:
            return id_prefix(recorded) not in NON_OBJECT_PREFIXES
        return False  # neither _ids nor an expansion pairs it

    def _wants_time(self, recorded: int) -> bool:
        wanted = self._wanted_times
        return (wanted is None or recorded in wanted) and is_calendar_time(recorded)

    def _walk(self, recorded: Any, replayed: Any, key: str | None) -> None:
        if isinstance(recorded, dict):
            if isinstance(replayed, dict):
                object_type, other_type = recorded.get("object"), replayed.get("object")
                if object_type is not None and other_type is not None and object_type != other_type:
                    return  # not the same thing: nothing in it pairs up
                for name, value in recorded.items():
                    kind = type(value)
                    if kind is str:
                        # Most fields: a text beside a text is looked at here, not walked.
                        if name in NOT_ID_FIELDS:
                            continue
                        other = replayed.get(name)
                        if type(other) is str:
                            if name == "client_secret":
                                self._keep_secret(value, other)
                            elif value and other and (name == "id" or "_" in value):
                                self._ids(value, other, name)
                        elif other is not None:
                            self._walk(value, other, name)
                        continue
                    if kind is int and (name in TIMESTAMP_FIELDS or name.endswith("_at")):
                        other = replayed.get(name)
                        if type(other) is int and self._wants_time(value):
                            _keep_latest(self._times, value, other, TIMES_KEPT)
                        continue
                    if value is None or kind in _SCALARS:
                        continue  # no id in a number, a boolean or a null
                    if name not in NOT_ID_FIELDS:
                        other = replayed.get(name)
                        if other is not None:  # nothing pairs with a null
                            self._walk(value, other, name)
            elif isinstance(replayed, str) and isinstance(recorded.get("id"), str):
                self._ids(recorded["id"], replayed, "id")  # expanded in one, an id in the other
        elif isinstance(recorded, list):
            # An empty list on either side pairs nothing (most lists of an answer are).
            if isinstance(replayed, list) and recorded and replayed:
                for one, other in _align(recorded, replayed, self.ids):
                    self._walk(one, other, key)
        elif isinstance(recorded, str):
            if key == "client_secret":
                if isinstance(replayed, str):
                    self._keep_secret(recorded, replayed)
            elif isinstance(replayed, str):
                self._ids(recorded, replayed, key)
            elif (
                isinstance(replayed, dict)
                and isinstance(replayed.get("id"), str)
                # A text that may be an id (an expanded object beside it): one with a
                # prefix, or in a field of user-chosen ids; not a name or a description.
                and (key == "id" or "_" in recorded or key in CUSTOM_ID_FIELDS)
            ):
                self._ids(recorded, replayed["id"], "id")

    def _ids(self, recorded: str, replayed: str, key: str | None) -> None:
        if not recorded or not replayed or self.ids.get(recorded) is not None:
            return  # nothing to pair, or paired already (the first pairing wins)
        if key == "id":
            # An id field pairs whatever it holds, user-chosen ids (a plan called gold) too.
            if id_prefix(recorded) not in NON_OBJECT_PREFIXES:
                self.pair(recorded, replayed)
            return
        if "_" not in recorded:
            return  # every Stripe id has one: most strings are let go here
        # An id beside an id of its kind, one of them perhaps with an all-lowercase random
        # part (about one in five million of localstripe's): the other one says the place
        # holds an id. Two lowercase texts are two words (`in_progress`).
        if is_stripe_id(recorded):
            paired = is_id_shaped(replayed)
        else:
            paired = is_stripe_id(replayed) and is_id_shaped(recorded)
        if paired and _resource(recorded) == _resource(replayed):
            self.pair(recorded, replayed)

    def to_json(self, target: str) -> dict[str, Any]:
        return {"version": 1, "target": target, "ids": dict(self.ids.items())}


def _all_objects(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in items)


# Fields left out of an item's signature: they differ between two targets for the same
# object (or say nothing about which object it is).
_UNSIGNED = TIMESTAMP_FIELDS | VOLATILE_FIELDS | {"livemode"}

Signature = tuple[tuple[str, Any], ...]


def _signature(item: dict[str, Any], ids: Callable[[str], str | None]) -> Signature:
    """What an item of a list says about which object it is, as comparable on either
    side: every plain value at its path (nested too, list positions dropped), and each
    id as the target id it stands for (`ids` gives it, or None when unknown: left out).
    The item's own generated id is left out; a user-chosen one (`gold`) is content."""
    found: list[tuple[str, Any]] = []

    def walk(node: Any, path: str) -> None:
        kind = type(node)
        if kind is dict:
            for key, value in node.items():
                if key not in _UNSIGNED and value is not None:
                    walk(value, f"{path}.{key}" if path else key)
        elif kind is list:
            for value in node:
                walk(value, path + "[]")
        elif (
            kind is str
            and "_" in node
            # An id whose random part is all lowercase is one as well (a word such as
            # `in_progress` then says nothing either way); the item's own id is content
            # when a user chose it (`plan_professional`).
            and (is_generated_id(node) if path == "id" else is_id_shaped(node))
        ):
            target = ids(node)
            if target is not None and path != "id":
                found.append((path, "=" + target))
        else:
            found.append((path, node))

    walk(item, "")
    return tuple(sorted(found, key=repr))


def _says_something(signature: Signature) -> bool:
    """More than the kind of object: two items that say only that are told apart by
    nothing."""
    return any(path != "object" for path, _ in signature)


def _align(recorded: list[Any], replayed: list[Any], known: PairStore) -> Iterator[tuple[Any, Any]]:
    """Pair the items of two lists, never wrongly: objects whose own ids are already
    mapped with their counterparts; then, round after round (each pair learnt may tell
    more apart), items whose signature no other item of either list has. Nothing is
    paired by elimination or position: with an item dropped on one side and one added on
    the other, the last two left need not be the same object. A list of anything but
    objects with ids is walked position by position."""
    if not (_all_objects(recorded) and _all_objects(replayed)):
        yield from zip(recorded, replayed, strict=False)
        return
    by_id = {item["id"]: index for index, item in enumerate(replayed)}
    ours: set[int] = set()  # indexes paired so far, on each side
    theirs: set[int] = set()
    for index, item in enumerate(recorded):
        counterpart = known.get(item["id"])
        other = by_id.get(counterpart) if counterpart is not None else None
        if other is not None and other not in theirs:
            ours.add(index)
            theirs.add(other)
            yield item, replayed[other]

    def target(value: str) -> str | None:
        return value if known.key_of(value) is not None else None

    while len(ours) < len(recorded) and len(theirs) < len(replayed):
        groups: dict[Signature, tuple[list[int], list[int]]] = {}
        for index, item in enumerate(recorded):
            groups.setdefault(_signature(item, known.get), ([], []))[0].append(index)
        for index, item in enumerate(replayed):
            found = groups.get(_signature(item, target))
            if found is not None:
                found[1].append(index)
        pairs = [
            (mine[0], others[0])
            for signature, (mine, others) in groups.items()
            if len(mine) == 1
            and len(others) == 1
            and mine[0] not in ours
            and others[0] not in theirs
            # an item whose own id is mapped already pairs with its counterpart or nothing
            and known.get(recorded[mine[0]]["id"]) is None
            and known.key_of(replayed[others[0]]["id"]) is None
            and _says_something(signature)
        ]
        if not pairs:
            return
        for one, other in pairs:
            ours.add(one)
            theirs.add(other)
            yield recorded[one], replayed[other]


# --- seed files --------------------------------------------------------------------------


def read_id_map_file(path: str | Path) -> dict[str, str]:
    """A migration mapping that seeds a target's id map, every id checked
    (harness.formats.mapping: CSV `old_id,new_id[,type]`, JSON, an earlier run's id map).
    Mistakes are InputErrors naming FILE:LINE."""
    return read_mapping_file(path)


def target_seeds(target: TargetSpec) -> dict[str, str]:
    """What a target's id map starts from: its `id_map` file, then the connected accounts
    it maps (`accounts:` as a mapping or a mapping file; nothing for `accounts: same`).
    Mistakes are InputErrors naming the file."""
    seeds = read_id_map_file(target.id_map) if target.id_map is not None else {}
    if isinstance(target.accounts, dict):
        seeds.update(target.accounts)
    elif isinstance(target.accounts, Path):
        accounts = read_id_map_file(target.accounts)
        for recorded, sent in accounts.items():
            if not (is_account_id(recorded) and is_account_id(sent)):
                raise InputError(
                    f"{target.accounts}: {recorded} → {sent}: not a connected account id "
                    f"(acct_…); target {target.name}'s accounts file maps accounts only"
                )
        seeds.update(accounts)
    return seeds
