"""Compare the events two sides sent (docs/events.md): per journey, as multisets of event
types, each matched pair's `data.object` and `data.previous_attributes` normalised and
diffed exactly like an API answer (the same profile, id and time maps, and rules).

An event belongs to the journey of the first id it names that the run's id maps know
(its `data.object.id` first, then the ids inside the object: an invoice the replay never
saw belongs to its customer's journey), or to the journey of the request its
`request.id` names; else to none (-1), where events are still matched by type. Stripe
delivers at least once and in no order: an event id counts once and order is ignored.

Each event of either side comes to one outcome: `match` (also `noise` or `expected`
when every difference is), `differs`, `missing` (the baseline sent it, the candidate did
not: critical) or `unexpected` (the candidate sent one the baseline did not: high). The
differences are grouped into causes (event type, path, kind), the summary's `events`
section (harness.formats.summary's `check_events_section`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.compare.classify import SEVERITY_RANK, Classifier
from harness.compare.diff import diff_trees
from harness.compare.normalize import IdNamer, normalize_tree
from harness.compare.profile import Profile
from harness.compare.rules import CompareConfig
from harness.compare.timemap import TimeMap
from harness.formats.events import EVENT_OUTCOMES, ReceivedEvent
from harness.model import Difference, Exchange
from harness.stripe import ID_PATTERN, find_ids

PRESENCE_SEVERITY = {"missing": "critical", "unexpected": "high"}
# A journey for events no id places.
NO_JOURNEY = -1


def event_endpoint(event_type: str) -> str:
    """What rules and causes call an event type: `event invoice.paid` (so a rule's
    endpoint glob `event invoice.*` picks events out)."""
    return f"event {event_type}"


def cause_id(event_type: str, path: str, kind: str) -> str:
    """A short hash of an event cause: the same in every run."""
    text = f"{event_endpoint(event_type)}\n{path}\n{kind}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


# --- which journey an event belongs to ------------------------------------------------------


def recorded_journeys(
    recording: Iterable[Exchange], journey_of_seq: Mapping[int, int]
) -> dict[str, int]:
    """Recorded id → the journey of the first recorded exchange that names it (in its
    path or its answer)."""
    journeys: dict[str, int] = {}
    for exchange in recording:
        journey = journey_of_seq.get(exchange.seq)
        if journey is None or exchange.extra.get("direction") == "inbound":
            continue
        text = exchange.request.path
        if exchange.response is not None:
            text += " " + exchange.response.text
        for found in find_ids(text):
            journeys.setdefault(found, journey)
    return journeys


def request_journeys(exchanges: Iterable[Exchange]) -> dict[str, int]:
    """A side's Request-Id → the journey of the exchange it answered (an event's
    `request.id` names the request that made it)."""
    journeys: dict[str, int] = {}
    for exchange in exchanges:
        journey = exchange.extra.get("journey")
        if exchange.response is None or not isinstance(journey, int):
            continue
        request_id = exchange.response.header("request-id")
        if request_id:
            journeys[request_id] = journey
    return journeys


@dataclass(slots=True)
class EventSide:
    """One side's events and what places and names them: its id → recorded id
    (counterparts), its time map as the comparison of its answers left it, and its
    Request-Id → journey."""

    name: str
    events: list[ReceivedEvent]
    counterparts: Mapping[str, str]
    times: TimeMap | None = None
    requests: Mapping[str, int] = field(default_factory=dict)


def _object(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def _recorded_id(event: dict[str, Any], counterparts: Mapping[str, str]) -> str | None:
    identity = _object(event).get("id")
    return counterparts.get(identity) if isinstance(identity, str) else None


def journey_of(
    event: dict[str, Any],
    counterparts: Mapping[str, str],
    journeys: Mapping[str, int],
    requests: Mapping[str, int],
) -> int:
    """The journey an event belongs to (see the module docstring)."""
    obj = _object(event)
    identity = obj.get("id")
    candidates: list[str] = [identity] if isinstance(identity, str) else []
    candidates.extend(find_ids(repr(obj)))
    for found in candidates:
        recorded = counterparts.get(found)
        if recorded is not None and recorded in journeys:
            return journeys[recorded]
    request = event.get("request")
    request_id = request.get("id") if isinstance(request, dict) else request
    if isinstance(request_id, str) and request_id in requests:
        return requests[request_id]
    return NO_JOURNEY


# --- matching -----------------------------------------------------------------------------


@dataclass(slots=True)
class Placed:
    """An event with its journey and the recorded id of its object (None if unknown)."""

    received: ReceivedEvent
    journey: int
    recorded: str | None

    @property
    def type(self) -> str:
        return self.received.type


def place(side: EventSide, journeys: Mapping[str, int]) -> list[Placed]:
    return [
        Placed(
            received,
            journey_of(received.event, side.counterparts, journeys, side.requests),
            _recorded_id(received.event, side.counterparts),
        )
        for received in side.events
    ]


def match_events(
    baseline: list[Placed],
    candidate: list[Placed],
    alike: Callable[[Placed, Placed], bool] | None = None,
    distance: Callable[[Placed, Placed], int] | None = None,
) -> tuple[list[tuple[Placed, Placed]], list[Placed], list[Placed]]:
    """(pairs, missing, unexpected): within each (journey, type), an event pairs with one
    about the same recorded object whose payload is `alike` (when given), else with the
    first about the same object. What is left pairs by fewest differences (`distance`,
    when given and the bucket is small enough), else in order of creation. Several
    events about one object in one second (a customer updated twice), or about objects
    no id map knows (an invoice's payment made by the target itself), are told apart by
    their payloads, not by their order: a second does not fix it, and event ids are
    random."""
    buckets: dict[tuple[int, str], tuple[list[Placed], list[Placed]]] = defaultdict(
        lambda: ([], [])
    )
    for item in baseline:
        buckets[(item.journey, item.type)][0].append(item)
    for item in candidate:
        buckets[(item.journey, item.type)][1].append(item)
    pairs: list[tuple[Placed, Placed]] = []
    missing: list[Placed] = []
    unexpected: list[Placed] = []
    for key in sorted(buckets):
        ours, theirs = (sorted(b, key=_order) for b in buckets[key])
        left: list[Placed] = []
        for item in ours:
            same = [t for t in theirs if item.recorded is not None and t.recorded == item.recorded]
            partner = next((t for t in same if alike is not None and alike(item, t)), None)
            if partner is None and same:
                partner = same[0]
            if partner is None:
                left.append(item)
            else:
                theirs.remove(partner)
                pairs.append((item, partner))
        if alike is not None:
            # What no object pairs: a payload alike first (an invoice neither map knows).
            for item in list(left):
                partner = next((t for t in theirs if alike(item, t)), None)
                if partner is not None:
                    left.remove(item)
                    theirs.remove(partner)
                    pairs.append((item, partner))
        if distance is not None and 0 < len(left) * len(theirs) <= CLOSEST_PAIRS_TRIED:
            left, theirs = _pair_closest(left, theirs, distance, pairs)
        else:
            pairs.extend(zip(left, theirs, strict=False))
            left, theirs = left[len(theirs) :], theirs[len(left) :]
        missing.extend(left)
        unexpected.extend(theirs)
    return pairs, missing, unexpected


# Pairs of leftover events a bucket may weigh by their differences: beyond it (thousands of
# events of one type about objects nobody knows) they pair in order of creation.
CLOSEST_PAIRS_TRIED = 2_500


def _pair_closest(
    ours: list[Placed],
    theirs: list[Placed],
    distance: Callable[[Placed, Placed], int],
    pairs: list[tuple[Placed, Placed]],
) -> tuple[list[Placed], list[Placed]]:
    """Pair leftovers fewest differences first (ties in order of creation), appending to
    `pairs`; returns what neither side paired. Pairing in order instead would cross two
    events of one second whose payloads differ in one field each, and show differences
    in every field."""
    weighed = sorted(
        (distance(mine, other), i, j)
        for i, mine in enumerate(ours)
        for j, other in enumerate(theirs)
    )
    taken_ours: set[int] = set()
    taken_theirs: set[int] = set()
    for _, i, j in weighed:
        if i not in taken_ours and j not in taken_theirs:
            taken_ours.add(i)
            taken_theirs.add(j)
            pairs.append((ours[i], theirs[j]))
    return (
        [item for i, item in enumerate(ours) if i not in taken_ours],
        [item for j, item in enumerate(theirs) if j not in taken_theirs],
    )


def _order(item: Placed) -> tuple[float, str]:
    return (item.received.created, item.received.id)


# --- differences ----------------------------------------------------------------------------


def _comparable(received: ReceivedEvent, side: EventSide, profile: Profile) -> dict[str, Any]:
    """The parts of an event compared: data.object and data.previous_attributes,
    normalised like an answer to a request made when the event was created."""
    event = received.event
    data = event.get("data")
    if not isinstance(data, dict):
        data = {}
    version = event.get("api_version")
    own = profile.for_version(version if isinstance(version, str) else None)
    created = received.created
    tree: dict[str, Any] = {"object": data.get("object")}
    if data.get("previous_attributes") is not None:
        tree["previous_attributes"] = data["previous_attributes"]
    name = IdNamer(side.counterparts, side.times, (created, created), _pattern(own))
    return {
        "data": normalize_tree(tree, created, side.counterparts, own, name=name, times=side.times)
    }


def _pattern(profile: Profile) -> re.Pattern[str]:
    return profile.catalogue.id_pattern if profile.catalogue is not None else ID_PATTERN


# --- the candidate's summary ---------------------------------------------------------------


@dataclass(slots=True)
class EventCause:
    """Events with the same root: (event type, path, kind); `missing` and `unexpected`
    are causes at path `$`."""

    type: str
    path: str
    kind: str
    severity: str
    outcome: str
    reason: str | None = None
    count: int = 0
    journeys: set[int] = field(default_factory=set)
    samples: list[str] = field(default_factory=list)
    example: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": cause_id(self.type, self.path, self.kind),
            "type": self.type,
            "endpoint": event_endpoint(self.type),
            "path": self.path,
            "kind": self.kind,
            "severity": self.severity,
            "outcome": self.outcome,
            "reason": self.reason,
            "count": self.count,
            "journeys": len(self.journeys - {NO_JOURNEY}),
            "samples": self.samples,
            "example": self.example or {"baseline": None, "candidate": None},
        }

    def sort_key(self) -> tuple[int, int, int, str, str, str]:
        order = {"difference": 0, "expected": 1, "noise": 2}
        return (
            order.get(self.outcome, 3),
            SEVERITY_RANK.get(self.severity, 4),
            -self.count,
            self.type,
            self.path,
            self.kind,
        )


class EventSummary:
    """One candidate's event outcomes and causes, added one event at a time."""

    def __init__(self, samples: int = 5) -> None:
        self.samples = samples
        self.outcomes: Counter[str] = Counter()
        self.severities: Counter[str] = Counter()
        self.causes: dict[tuple[str, str, str], EventCause] = {}

    def _cause(
        self, key: tuple[str, str, str], severity: str, outcome: str, reason: str | None
    ) -> EventCause:
        cause = self.causes.get(key)
        if cause is None:
            cause = self.causes[key] = EventCause(*key, severity, outcome, reason)
        return cause

    def _note(self, cause: EventCause, item: Placed, example: dict[str, Any]) -> None:
        cause.count += 1
        cause.journeys.add(item.journey)
        if len(cause.samples) < self.samples:
            cause.samples.append(item.received.id)
        if cause.example is None:
            cause.example = example

    def presence(self, kind: str, item: Placed, config: CompareConfig) -> None:
        """A missing or unexpected event."""
        severity, outcome, reason = presence_verdict(config, item.type, kind)
        self.outcomes[kind if outcome == "difference" else outcome] += 1
        if outcome == "difference":
            self.severities[severity] += 1
        shown = {"type": item.type, "object": _object(item.received.event).get("id")}
        example = {"baseline": shown, "candidate": None}
        if kind == "unexpected":
            example = {"baseline": None, "candidate": shown}
        self._note(self._cause((item.type, "$", kind), severity, outcome, reason), item, example)

    def pair(self, item: Placed, differences: list[Difference], classifier: Classifier) -> None:
        """A matched pair and its differences."""
        for difference in differences:
            classifier.classify(difference)
        real = [d for d in differences if d.outcome == "difference"]
        if real:
            self.outcomes["differs"] += 1
            self.severities[min((d.severity for d in real), key=SEVERITY_RANK.__getitem__)] += 1
        elif any(d.outcome == "expected" for d in differences):
            self.outcomes["expected"] += 1
        elif differences:
            self.outcomes["noise"] += 1
        else:
            self.outcomes["match"] += 1
        seen: set[tuple[str, str, str]] = set()
        for difference in differences:
            key = (item.type, difference.path, difference.kind)
            if key in seen:
                continue
            seen.add(key)
            cause = self._cause(key, difference.severity, difference.outcome, difference.reason)
            example = {"baseline": difference.baseline, "candidate": difference.candidate}
            self._note(cause, item, example)

    def to_json(self) -> dict[str, Any]:
        return {
            "events": sum(self.outcomes.values()),
            "outcomes": {kind: self.outcomes[kind] for kind in EVENT_OUTCOMES},
            "severities": {name: self.severities[name] for name in SEVERITY_RANK},
            "causes": [c.to_json() for c in sorted(self.causes.values(), key=EventCause.sort_key)],
        }


def presence_verdict(
    config: CompareConfig, event_type: str, kind: str
) -> tuple[str, str, str | None]:
    """(severity, outcome, reason) of a missing or unexpected event: critical or high
    unless a severity rule says otherwise; `expected` when an expect rule (without a
    kind) covers the event type."""
    event = Difference(event_endpoint(event_type), "$", kind)
    severity = PRESENCE_SEVERITY[kind]
    for rule in config.severity:
        if rule.kind is None and rule.matches_signature(event):
            severity = str(rule.severity)
            break
    for expect in config.expect:
        if expect.kind is None and expect.matches_signature(event):
            return severity, "expected", expect.reason
    return severity, "difference", None


def compare_events(
    baseline: EventSide,
    candidate: EventSide,
    journeys: Mapping[str, int],
    profile: Profile,
    config: CompareConfig,
) -> dict[str, Any]:
    """One candidate's events against the baseline's: the summary section's entry."""
    normalised: dict[tuple[str, str], Any] = {}

    def comparable(side: EventSide, item: Placed) -> Any:
        key = (side.name, item.received.id)
        if key not in normalised:
            normalised[key] = _comparable(item.received, side, profile)
        return normalised[key]

    def alike(ours: Placed, theirs: Placed) -> bool:
        return bool(comparable(baseline, ours) == comparable(candidate, theirs))

    def differences(ours: Placed, theirs: Placed) -> list[Difference]:
        return diff_trees(
            event_endpoint(ours.type), comparable(baseline, ours), comparable(candidate, theirs)
        )

    base_events, other_events = place(baseline, journeys), place(candidate, journeys)
    for side, placed in ((baseline, base_events), (candidate, other_events)):
        # Normalised in order of creation before any is matched: normalising notes births
        # and first showings in the side's time map, which must not depend on the order
        # in which matching happens to reach the events.
        for item in sorted(placed, key=_order):
            comparable(side, item)
    pairs, missing, unexpected = match_events(
        base_events, other_events, alike, lambda ours, theirs: len(differences(ours, theirs))
    )
    summary = EventSummary(config.samples)
    classifier = Classifier(config)
    for item in missing:
        summary.presence("missing", item, config)
    for item in unexpected:
        summary.presence("unexpected", item, config)
    for ours, theirs in pairs:
        summary.pair(ours, differences(ours, theirs), classifier)
    return summary.to_json()


def type_counts(sides: Iterable[EventSide]) -> dict[str, dict[str, int]]:
    """Event type → side → how many events of that type it sent (each id once)."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for side in sides:
        for event_type, count in Counter(r.type for r in side.events).items():
            counts[event_type][side.name] = count
    return {event_type: counts[event_type] for event_type in sorted(counts)}


def iter_causes(section: Mapping[str, Any], candidate: str) -> Iterator[dict[str, Any]]:
    """The causes of a candidate in a summary's events section (none if it has none)."""
    entry = (section.get("candidates") or {}).get(candidate) or {}
    yield from entry.get("causes") or []
