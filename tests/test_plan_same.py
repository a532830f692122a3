"""The planner's plans stay exactly what they were: every recording of the repository,
every corpus of ../shared/corpora as `shadow import` imports it, and synthetic traffic
planned, and each plan's every field (journeys, roles, accesses, catalogue, orderings,
fences, pages, times) digested and held to the digest the planner gave before it was made
faster (docs/performance.md, "Issue 25: the planner"). A change of what a plan is
changes a digest on purpose: print the new ones with `python -m tests.test_plan_same`,
and say in the commit why the plan changed."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bench.synth import synthesize
from harness.cli import main
from harness.replay import plan as planning
from harness.replay.plan import Plan, plan_recording
from harness.replay.rewrite import NOT_ID_FIELDS
from harness.stripe import (
    ID_PREFIXES,
    NON_OBJECT_PREFIXES,
    id_prefix,
    is_stripe_id,
    is_test_token,
)
from harness.stripe.times import REQUEST_TIME_FIELDS
from tests.parts import missing

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
RECORDINGS = sorted(p.name for p in (ROOT / "recordings").glob("*.jsonl"))
# The corpora and the placeholders their cassettes need (tests/test_import_e2e.py).
CORPUS_PLACEHOLDERS = {
    "saleor__saleor": (),
    "saleor__saleor-app-payment-stripe": (),
    "pay-rails__pay": ("<VENDOR_ID>=1", "<VENDOR_AUTH_CODE>=x", "<PADDLE_API_KEY>=secret"),
    "spree__spree_stripe": (),
    "beam-community__stripity_stripe": (),
}
# (exchanges, seed) of the synthetic recordings planned (bench/synth.py).
SYNTHETIC = [(3000, 1), (3000, 2)]


def plan_facts(plan: Plan) -> dict[str, Any]:
    """Every field of a plan as plain data, in a fixed order."""

    def effect(value: Any) -> Any:
        return None if value is None else [sorted(value.collections), value.why]

    return {
        "seqs": list(plan.seqs),
        "journey_of": list(plan.journey_of),
        "roles": list(plan.roles),
        "access_index": list(plan.access_index),
        "accesses": [[a.resource, sorted(a.reads), effect(a.effect)] for a in plan.accesses],
        "sizes": list(plan.sizes),
        "catalogue": list(plan.catalogue),
        "refers": [[p, list(v)] for p, v in plan.refers.items()],
        "acts": [[p, list(v)] for p, v in plan.acts.items()],
        "after": [[p, list(v)] for p, v in plan.after.items()],
        "fences": {c: list(f.points) for c, f in plan.fences.items()},
        "makers": {c: list(m) for c, m in plan.makers.items()},
        "chained": plan.chained,
        "windows": [[p, w.items, w.start, w.end, w.chained] for p, w in plan.windows.items()],
        "unproduced": plan.unproduced,
        "unproduced_examples": plan.unproduced_examples,
        "times": None if plan.times is None else sorted(plan.times),
    }


def digest(plan: Plan) -> str:
    text = json.dumps(plan_facts(plan), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def plans(path: Path) -> tuple[str, str]:
    """The digests of a recording's plan without and with the request time fields."""
    return digest(plan_recording(path)), digest(
        plan_recording(path, time_fields=frozenset(REQUEST_TIME_FIELDS))
    )


def imported(name: str, out: Path) -> Path:
    root = CORPORA / name
    if not root.is_dir():
        missing(f"{root} not found", "the corpus tests read ../shared/corpora beside the repo")
    placeholders = [arg for p in CORPUS_PLACEHOLDERS[name] for arg in ("--placeholder", p)]
    result = CliRunner().invoke(main, ["import", str(root), "--out", str(out), *placeholders])
    assert result.exit_code == 0, result.output
    return out


def synthetic(count: int, seed: int, out: Path) -> Path:
    synthesize(out, count, seed)
    return out


# The digests the planner gave before it was made faster (main at d2544ea and at f004bb6).
EXPECTED: dict[str, tuple[str, str]] = {
    "recordings/charges.jsonl": ("abb12a0b902116ed24295653", "86ef213c31c9b14beba9a389"),
    "recordings/demo.jsonl": ("268d12d89a35d1a57c9abe57", "5fbf64ca95d898e0884c1932"),
    "recordings/migrated-account.jsonl": ("374c2392414ee87c3c10b7fe", "02407c00dbf5cf1295621f2c"),
    "recordings/month-end.jsonl": ("f95ca1194c2bf9ccd7a2b262", "43e47a4434e85c62ad3beebd"),
    "corpora/beam-community__stripity_stripe": (
        "ab6d367901df650f7e93d7d8",
        "b5f59037472c0ec79f299b48",
    ),
    "corpora/pay-rails__pay": ("13c26535fb0408dbf52438cd", "e4161ea04828ae274f918218"),
    "corpora/saleor__saleor": ("d27407b0d5b19ad738518be2", "700ca7f860bdee8e0ac66c69"),
    "corpora/saleor__saleor-app-payment-stripe": (
        "4807bf71ddd467e95d1e46a4",
        "2747d1caa5a03fcedfef3117",
    ),
    "corpora/spree__spree_stripe": ("79ac7cac8f785bb3080a1626", "d8c939164d254c46e09671ad"),
    "synthetic/3000-s1": ("37f6a6c4056d39a3ea0d5568", "a5cc26de132a5f0e7e1fbbee"),
    "synthetic/3000-s2": ("f9fb791cfb45c6e75e888d33", "4c92a5ee37cbd1ceeb89d6da"),
}


@pytest.mark.parametrize("name", RECORDINGS)
def test_a_recording_plans_as_before(name: str) -> None:
    assert plans(ROOT / "recordings" / name) == EXPECTED[f"recordings/{name}"]


@pytest.mark.parametrize("name", sorted(CORPUS_PLACEHOLDERS))
def test_an_imported_corpus_plans_as_before(name: str, tmp_path: Path) -> None:
    assert plans(imported(name, tmp_path / "imported.jsonl")) == EXPECTED[f"corpora/{name}"]


@pytest.mark.parametrize(("count", "seed"), SYNTHETIC)
def test_synthetic_traffic_plans_as_before(count: int, seed: int, tmp_path: Path) -> None:
    path = synthetic(count, seed, tmp_path / "synthetic.jsonl")
    assert plans(path) == EXPECTED[f"synthetic/{count}-s{seed}"]


# Strings an answer or a request may hold: ids of every known prefix (and of none), test
# tokens, request ids, account-wide configuration ids, user-chosen ids, words and codes.
_BODY = st.sampled_from(["1Ab2Cd3Ef", "AbCdEfGh", "abcdefgh", "x9", "9QwErTy12", "visa"])
STRINGS = st.one_of(
    st.builds(
        lambda prefix, body: f"{prefix}_{body}",
        st.sampled_from([*sorted(ID_PREFIXES), "req", "pmc", "txcd", "tok", "pm_card", "zz"]),
        _BODY,
    ),
    st.sampled_from(
        ["tok_visa", "pm_card_visa", "tok_visaDebit", "src_threeDSecure2Required", "gold", ""]
    ),
    st.sampled_from(["card_declined", "in_progress"]),
    st.text(st.sampled_from("abcAZ09_<>:"), max_size=12),
)
KEYS = st.sampled_from(["id", "customer", "data", "items", "gold", *sorted(NOT_ID_FIELDS)[:4]])
ANSWERS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def _plain_response_ids(node: Any, found: dict[str, None], key: str | None = None) -> None:
    """The walk the planner made before it looked at strings where it meets them."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name not in NOT_ID_FIELDS and value is not None and type(value) not in _SCALARS:
                _plain_response_ids(value, found, name)
    elif isinstance(node, list):
        for value in node:
            _plain_response_ids(value, found, key)
    elif isinstance(node, str) and node:
        if key == "id":
            if id_prefix(node) not in NON_OBJECT_PREFIXES:
                found[node] = None
        elif "_" in node and is_stripe_id(node) and not is_test_token(node):
            found[node] = None


_SCALARS = frozenset({int, float, bool})


@given(STRINGS)
def test_the_facts_kept_of_a_string_are_what_the_plain_functions_say(value: str) -> None:
    facts = planning._facts(value)
    assert bool(facts & planning._STRIPE_ID) == is_stripe_id(value)
    assert bool(facts & planning._CATALOGUE) == planning.is_catalogue_id(value)
    assert bool(facts & planning._AMBIENT) == (id_prefix(value) in planning.AMBIENT_PREFIXES)
    assert bool(facts & planning._LEARNT) == (is_stripe_id(value) and not is_test_token(value))
    assert bool(facts & planning._NAMED) == (id_prefix(value) not in NON_OBJECT_PREFIXES)


@given(ANSWERS, st.none() | KEYS)
def test_an_answer_names_the_ids_the_plain_walk_finds_in_its_order(node: Any, key: Any) -> None:
    fast: dict[str, None] = {}
    plain: dict[str, None] = {}
    planning._response_ids(node, fast, key)
    _plain_response_ids(node, plain, key)
    assert list(fast) == list(plain)


def _current(scratch: Path) -> dict[str, tuple[str, str]]:
    found = {f"recordings/{n}": plans(ROOT / "recordings" / n) for n in RECORDINGS}
    for name in sorted(CORPUS_PLACEHOLDERS):
        found[f"corpora/{name}"] = plans(imported(name, scratch / f"{name}.jsonl"))
    for count, seed in SYNTHETIC:
        path = synthetic(count, seed, scratch / f"synthetic-{count}-{seed}.jsonl")
        found[f"synthetic/{count}-s{seed}"] = plans(path)
    return found


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for key, value in _current(Path(scratch)).items():
            print(f"    {key!r}: {value!r},")
    sys.exit(0)
