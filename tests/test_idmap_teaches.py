"""An answer the id map says `teaches` nothing may go unwalked (IdMap.learn_responses):
held to walking every answer, on generated traffic. Two id maps learn from the same pairs
of answers, one walking each, the other only those `teaches` lets through; after every
pair they hold the same ids, client secrets and times, and rewrite every request alike.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.formats.untrusted import response_json
from harness.model import Request, Response
from harness.replay.idmap import IdMap
from harness.replay.rewrite import TargetContext, rewrite_request

# Recorded ids and the target's (two recorded ids may be given one target id: the second
# pairing is refused, and a later answer may pair it otherwise).
RECORDED_IDS = [f"{prefix}_R{n:07d}" for prefix in ("cus", "pi") for n in range(3)]
TARGET_IDS = [f"{prefix}_T{n:07d}" for prefix in ("cus", "pi") for n in range(4)]
# Texts that are no ids, or may be one where an expanded object stands beside them.
WORDS = ["gold", "Plan 0", "", "a_b", "req_R0000001", "card_declined"]
SECRETS = ["pi_R0000001_secret_abc", "pi_R0000002_secret_def", ""]
TIMES = [1_795_435_200, 1_795_435_260, 1_795_500_000, 12]  # the last is no calendar time

ids_or_words = st.sampled_from(RECORDED_IDS + WORDS)
scalars = st.one_of(
    ids_or_words, st.sampled_from(SECRETS + TIMES), st.booleans(), st.none(), st.floats(0, 9)
)
# What each field of a recorded answer holds, most of the time.
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": ids_or_words,
    "customer": ids_or_words,
    "plan": ids_or_words,
    "description": ids_or_words,
    "status": ids_or_words,  # never an id (NOT_ID_FIELDS)
    "client_secret": st.sampled_from(SECRETS),
    "created": st.sampled_from(TIMES),
    "canceled_at": st.sampled_from(TIMES),
    "amount": st.sampled_from(TIMES),  # a number that is no time
    "latest_charge": st.just(None),  # an object (below)
    "data": st.just(None),  # a list (below)
}


@st.composite
def trees(draw: st.DrawFn, depth: int = 2) -> Any:
    """A recorded answer's JSON: an object with an id, references, a client secret and
    times, objects in it and lists of them; now and then any value in any field."""
    fields = draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=6, unique=True))
    tree: dict[str, Any] = {}
    for name in fields:
        if draw(st.integers(0, 9)) == 0:
            tree[name] = draw(scalars)  # anything, anywhere
        elif name == "latest_charge" and depth:
            tree[name] = draw(trees(depth - 1))
        elif name == "data" and depth:
            tree[name] = draw(st.lists(st.one_of(trees(depth - 1), ids_or_words), max_size=3))
        else:
            tree[name] = draw(FIELDS[name])
    kind = draw(st.sampled_from([None, "customer", "charge"]))
    if kind is not None:
        tree["object"] = kind
    return tree


@st.composite
def answer_to(draw: st.DrawFn, recorded: Any) -> Any:
    """The target's answer beside `recorded`: the same shape with its ids, secrets and
    times of its own, here and there an object expanded or gone, a list reordered, or
    something else altogether."""
    change = draw(st.integers(0, 19))
    if change == 0:
        return draw(st.one_of(scalars, trees(0)))  # something else
    if isinstance(recorded, dict):
        out = {}
        for key, value in recorded.items():
            if draw(st.integers(0, 7)) == 0:
                continue  # not in the target's answer
            out[key] = draw(answer_to(value))
        return out
    if isinstance(recorded, list):
        items = [draw(answer_to(item)) for item in recorded]
        return draw(st.permutations(items)) if items else items
    if isinstance(recorded, str):
        if change < 5:
            return {"id": draw(st.sampled_from(TARGET_IDS + WORDS)), "object": "customer"}
        if recorded in RECORDED_IDS:
            return draw(st.sampled_from(TARGET_IDS))
        if recorded in SECRETS and recorded:
            return recorded.replace("_R", "_T")
        return recorded
    if type(recorded) is int:
        return draw(st.sampled_from(TIMES))
    return recorded


@st.composite
def traffic(draw: st.DrawFn) -> list[tuple[Any, Any]]:
    """Pairs of answers: a few recorded answers, each seen again and again (an object
    read back, its ids known by then), each time with an answer of the target's."""
    answers = draw(st.lists(st.one_of(trees(), st.lists(trees(1))), min_size=1, max_size=4))
    order = draw(st.lists(st.integers(0, len(answers) - 1), min_size=1, max_size=12))
    return [(answers[index], draw(answer_to(answers[index]))) for index in order]


def requests() -> list[Request]:
    """Requests naming every recorded id, secret and time the traffic may hold."""
    made = [Request("GET", f"/v1/customers/{value}") for value in RECORDED_IDS + WORDS if value]
    made += [
        Request("POST", "/v1/subscriptions", body=f"cancel_at={moment}&customer=cus_R0000001")
        for moment in TIMES
    ]
    made += [
        Request("GET", "/v1/payment_intents", query=f"client_secret={secret}")
        for secret in SECRETS
        if secret
    ]
    return made


def state(idmap: IdMap) -> tuple[object, ...]:
    return (
        sorted(idmap.ids.items()),
        [idmap.secret(secret) for secret in SECRETS],
        [idmap.time(moment) for moment in TIMES],
        idmap.learnt,
    )


def as_response(tree: Any) -> Response:
    return Response(200, [("Content-Type", "application/json")], json.dumps(tree))


CONTEXT = TargetContext(name="twin", run_id="run1", time_shift=86_400)


@settings(max_examples=300)
@given(
    traffic(),
    st.one_of(st.none(), st.frozensets(st.sampled_from(TIMES))),
    st.dictionaries(st.sampled_from(RECORDED_IDS), st.sampled_from(TARGET_IDS), max_size=3),
)
def test_an_answer_that_teaches_nothing_needs_no_walk(
    pairs: list[tuple[Any, Any]], wanted: frozenset[int] | None, seeds: dict[str, str]
) -> None:
    walked, skipping = IdMap(seeds), IdMap(seeds)
    walked.only_times(wanted)
    skipping.only_times(wanted)
    for recorded, replayed in pairs:
        if not skipping.teaches(recorded):
            before = state(walked)
            walked.learn(recorded, replayed)
            assert state(walked) == before, "a walk changed what teaches said it would not"
        else:
            walked.learn(recorded, replayed)
            skipping.learn(recorded, replayed)
        assert state(skipping) == state(walked)
        for request in requests():
            assert rewrite_request(request, 1, skipping, CONTEXT) == rewrite_request(
                request, 1, walked, CONTEXT
            )


@given(traffic())
def test_learn_responses_walks_only_what_teaches(pairs: list[tuple[Any, Any]]) -> None:
    """The engine's way in (parsed answers) learns what walking every answer learns."""
    walked, engine = IdMap(), IdMap()
    for recorded, replayed in pairs:
        if not isinstance(recorded, dict | list):
            continue  # an answer's body the engine parses is an object or a list
        answer = as_response(replayed)
        walked.learn(recorded, response_json(answer))  # as the engine reads a body
        engine.learn_responses(as_response(recorded), answer)
        assert state(engine) == state(walked)


def test_an_answer_of_known_ids_and_no_wanted_time_teaches_nothing() -> None:
    idmap = IdMap({"cus_R0000001": "cus_T0000001"})
    idmap.only_times(frozenset({1_795_500_000}))
    known = {"id": "cus_R0000001", "object": "customer", "created": 1_795_435_200, "name": "Jo"}
    assert not idmap.teaches(known)
    assert idmap.teaches({**known, "created": 1_795_500_000})  # a time a request holds
    assert idmap.teaches({**known, "default_source": "card_R0000001x"})  # a new id
    assert idmap.teaches({**known, "client_secret": "pi_R0000001_secret_abc"})
    assert not idmap.teaches({**known, "status": "cus_R0000009"})  # a code, never an id
    assert not idmap.teaches({**known, "description": "Plan 0"})  # a word
    assert idmap.teaches({**known, "plan": "gold"})  # a user-chosen id


def test_a_word_beside_an_expanded_object_is_not_paired() -> None:
    """Only a text that may be an id pairs with an object expanded beside it: one with
    a prefix, one in a field of user-chosen ids, or an id field."""
    idmap = IdMap()
    idmap.learn(
        {"description": "Plan 0", "plan": "gold", "customer": "cus_R0000001"},
        {
            "description": {"id": "prod_T0000001"},
            "plan": {"id": "gold_target"},
            "customer": {"id": "cus_T0000001"},
        },
    )
    assert sorted(idmap.ids.items()) == [
        ("cus_R0000001", "cus_T0000001"),
        ("gold", "gold_target"),
    ]
