"""The id map of one target: recorded id → target id, learnt by walking each recorded
response together with the target's answer to the same request, and seeded from a
migration mapping file (CSV `old_id,new_id` or JSON).

Learning never overwrites: the first pairing of an id wins and no target id is given to
two recorded ids, so a list whose items came back in another order cannot corrupt it.
Client secrets are paired too, but kept in memory only: they never reach the id map file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.migration import read_mapping_file
from harness.model import Response
from harness.pairstore import PairStore
from harness.replay.rewrite import NOT_ID_FIELDS
from harness.stripe import (
    ID_PREFIXES,
    NON_OBJECT_PREFIXES,
    TIMESTAMP_FIELDS,
    id_prefix,
    is_stripe_id,
)
from harness.untrusted import JSONProblem, load_json

_SCALARS = frozenset({int, float, bool})


def _resource(value: str) -> str:
    prefix = id_prefix(value)
    return ID_PREFIXES.get(prefix, prefix)


def response_json(response: Response | None) -> Any:
    """The parsed JSON body of a response, or None when it has none, or none the harness
    walks (past a limit of harness.untrusted: nothing is learnt from it)."""
    if response is None or not response.body:
        return None
    text = response.text
    if text[:1] not in ("{", "["):
        return None
    try:
        return load_json(text)
    except JSONProblem:
        return None


# Client secrets kept (the latest learnt): a secret is used within the journey of its
# object, seconds or minutes after its answer, never a recording later.
SECRETS_KEPT = 10_000


class IdMap:
    """Recorded id → target id for one target (see the module docstring). The pairs move
    to a file of their own once there are many (harness.pairstore); the client secrets
    stay in memory, the latest SECRETS_KEPT of them."""

    def __init__(self, seeds: dict[str, str] | None = None) -> None:
        self.ids = PairStore((seeds or {}).items())
        self._secrets: dict[str, str] = {}
        self.learnt = 0

    def get(self, recorded: str) -> str | None:
        return self.ids.get(recorded)

    def secret(self, recorded: str) -> str | None:
        return self._secrets.get(recorded)

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
        if recorded in self._secrets:
            return
        if len(self._secrets) >= SECRETS_KEPT:
            for oldest in list(itertools.islice(self._secrets, SECRETS_KEPT // 2)):
                del self._secrets[oldest]
        self._secrets[recorded] = replayed

    def close(self) -> None:
        """Remove the file the pairs moved to, if they did."""
        self.ids.close()

    def learn_responses(self, recorded: Response | None, replayed: Response | None) -> int:
        """Learn from a recorded response and the target's answer to the same request."""
        return self.learn(response_json(recorded), response_json(replayed))

    def learn(self, recorded: Any, replayed: Any) -> int:
        """Walk two parsed JSON bodies together; returns how many ids were learnt."""
        before = self.learnt
        if recorded is not None and replayed is not None:
            self._walk(recorded, replayed, None)
        return self.learnt - before

    def _walk(self, recorded: Any, replayed: Any, key: str | None) -> None:
        if isinstance(recorded, dict):
            if isinstance(replayed, dict):
                kind, other = recorded.get("object"), replayed.get("object")
                if kind is not None and other is not None and kind != other:
                    return  # not the same thing: nothing in it pairs up
                for name, value in recorded.items():
                    if value is None or type(value) in _SCALARS:
                        continue  # no id in a number, a boolean or a null
                    if name in replayed and name not in NOT_ID_FIELDS:
                        self._walk(value, replayed[name], name)
            elif isinstance(replayed, str) and isinstance(recorded.get("id"), str):
                self._ids(recorded["id"], replayed, "id")  # expanded in one, an id in the other
        elif isinstance(recorded, list):
            if isinstance(replayed, list):
                for one, other in _align(recorded, replayed, self.ids):
                    self._walk(one, other, key)
        elif isinstance(recorded, str):
            if isinstance(replayed, str):
                if key == "client_secret":
                    self._keep_secret(recorded, replayed)
                else:
                    self._ids(recorded, replayed, key)
            elif isinstance(replayed, dict) and isinstance(replayed.get("id"), str):
                self._ids(recorded, replayed["id"], "id")

    def _ids(self, recorded: str, replayed: str, key: str | None) -> None:
        if not recorded or not replayed:
            return
        if key == "id":
            # An id field pairs whatever it holds, user-chosen ids (a plan called gold) too.
            if id_prefix(recorded) not in NON_OBJECT_PREFIXES:
                self.pair(recorded, replayed)
            return
        if (
            is_stripe_id(recorded)
            and is_stripe_id(replayed)
            and _resource(recorded) == _resource(replayed)
        ):
            self.pair(recorded, replayed)

    def to_json(self, target: str) -> dict[str, Any]:
        return {"version": 1, "target": target, "ids": dict(self.ids.items())}


def _all_objects(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in items)


def _align(
    recorded: list[Any], replayed: list[Any], known: Mapping[str, str]
) -> Iterator[tuple[Any, Any]]:
    """Pair the items of two lists: objects whose ids are already mapped with their
    counterparts, the rest by position when as many are left on both sides."""
    if not (_all_objects(recorded) and _all_objects(replayed)):
        yield from zip(recorded, replayed, strict=False)
        return
    by_id = {item["id"]: item for item in replayed}
    claimed: set[str] = set()
    left: list[Any] = []
    for item in recorded:
        counterpart = known.get(item["id"])
        if counterpart is not None and counterpart in by_id:
            claimed.add(counterpart)
            yield item, by_id[counterpart]
        else:
            left.append(item)
    rest = [item for item in replayed if item["id"] not in claimed]
    if len(left) == len(rest):
        yield from _pair_by_content(left, rest)


def _content_key(item: dict[str, Any]) -> set[tuple[str, Any]]:
    """The plain fields that say what an object is (amount, description, quantity…):
    neither its id, nor references to other objects, nor times."""
    return {
        (name, value)
        for name, value in item.items()
        if name != "id"
        and name not in TIMESTAMP_FIELDS
        and isinstance(value, str | int | float | bool)
        and not (isinstance(value, str) and is_stripe_id(value))
    }


def _pair_by_content(left: list[Any], rest: list[Any]) -> Iterator[tuple[Any, Any]]:
    """Pair new objects by how much of their content agrees, position breaking ties.

    Objects created within the same second (an invoice's lines, say) can be listed in
    another order by each target; pairing them by position would teach the map wrong ids.
    """
    keys = [_content_key(item) for item in rest]
    free = list(range(len(rest)))
    for item in left:
        mine = _content_key(item)
        best = max(free, key=lambda index: (len(mine & keys[index]), -index))
        free.remove(best)
        yield item, rest[best]


# --- seed files --------------------------------------------------------------------------


def read_id_map_file(path: str | Path) -> dict[str, str]:
    """A migration mapping that seeds a target's id map, every id checked
    (harness.migration: CSV `old_id,new_id[,type]`, JSON, an earlier run's id map).
    Mistakes are InputErrors naming FILE:LINE."""
    return read_mapping_file(path)
