"""Request transforms: the built-ins on plain requests, the chain's several-or-none rule,
finding a user's own (dotted path, entry point) with clear errors, the scenario's
`transforms:` list, and a real replay through transforms against localstripe."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from replayfixtures import exchange, recording

from harness.cli import main
from harness.errors import ScenarioError, ScenarioProblem
from harness.formats.rundir import load_run
from harness.model import Exchange, Request, Response
from harness.replay.idmap import IdMap
from harness.replay.session import start_replay
from harness.scenario import load_scenario, parse_scenario
from harness.stripe import form_tree, parse_form_pairs
from harness.transforms import (
    TRANSFORMS,
    Transform,
    TransformChain,
    check_transforms,
    edit_param,
    own_idempotency_keys,
    resolve_transform,
)
from harness.transforms.charges import CHARGES_TO_PAYMENT_INTENTS

ROOT = Path(__file__).resolve().parent.parent
FORM = [("Content-Type", "application/x-www-form-urlencoded")]


def post(path: str, body: str, headers: list[tuple[str, str]] | None = None) -> Request:
    return Request("POST", path, headers=[*FORM, *(headers or [])], body=body)


def recorded(request: Request, answer: Any = None, seq: int = 0) -> Exchange:
    response = Response(200, [("Content-Type", "application/json")], json.dumps(answer or {}))
    return Exchange(seq, 1_700_000_000.0, 0.01, request, response)


def chain(entries: list[Any], ids: IdMap | None = None, base: Path | None = None) -> TransformChain:
    return TransformChain(check_transforms(entries, base), "candidate", ids or IdMap())


def only(chain_: TransformChain, request: Request, answer: Any = None) -> Request:
    applied = chain_.apply(recorded(request, answer), request)
    assert applied.skipped is None and len(applied.requests) == 1, applied
    return applied.requests[0]


def tree(encoded: str) -> dict[str, Any]:
    return form_tree(parse_form_pairs(encoded))


# --- headers and parameters ---------------------------------------------------------------


def test_set_header_replaces_and_remove_header_drops_every_spelling() -> None:
    request = post("/v1/customers", "", [("stripe-version", "2020-08-27"), ("X-Trace", "a")])
    pinned = only(
        chain([{"name": "set_header", "header": "Stripe-Version", "value": "2024-09-30.acacia"}]),
        request,
    )
    assert pinned.header("Stripe-Version") == "2024-09-30.acacia"
    assert [k.lower() for k, _ in pinned.headers].count("stripe-version") == 1
    assert request.header("Stripe-Version") == "2020-08-27"  # the input is left alone
    bare = only(chain([{"name": "remove_header", "header": "STRIPE-VERSION"}]), request)
    assert bare.header("stripe-version") is None and bare.header("x-trace") == "a"


def test_set_param_keeps_the_other_pairs_byte_for_byte_and_nests_values() -> None:
    body = "amount=2000&metadata[order]=1&description=Caf%C3%A9+au+lait"
    request = post("/v1/charges", body)
    changed = only(
        chain([{"name": "set_param", "param": "metadata", "value": {"source": "shadow", "n": 2}}]),
        request,
    )
    assert changed.body.startswith("amount=2000&description=Caf%C3%A9+au+lait&")  # type: ignore[union-attr]
    assert tree(changed.text)["metadata"] == {"source": "shadow", "n": "2"}
    flag = only(chain([{"name": "set_param", "param": "capture", "value": False}]), request)
    assert tree(flag.text)["capture"] == "false"


def test_remove_param_takes_everything_under_a_bracket_path_in_either_encoding() -> None:
    body = "metadata%5Ba%5D=1&metadata[b]=2&amount=5&expand[]=customer&expand[]=invoice"
    request = post("/v1/charges", body)
    assert only(chain([{"name": "remove_param", "param": "metadata"}]), request).body == (
        "amount=5&expand[]=customer&expand[]=invoice"
    )
    assert only(chain([{"name": "remove_param", "param": "metadata[a]"}]), request).body == (
        "metadata[b]=2&amount=5&expand[]=customer&expand[]=invoice"
    )
    assert "expand" not in tree(
        only(chain([{"name": "remove_param", "param": "expand"}]), request).text
    )


def test_parameters_of_a_get_go_in_its_query_and_of_a_json_body_in_the_json() -> None:
    listing = Request("GET", "/v1/customers", query="limit=3&email=a%40b.c")
    assert edit_param(listing, "limit", 10, "auto", remove=False).query == (
        "email=a%40b.c&limit=10"
    )
    assert edit_param(listing, "email", None, "auto", remove=True).query == "limit=3"
    as_json = Request(
        "POST",
        "/v2/core/events",
        headers=[("Content-Type", "application/json")],
        body='{"a": {"b": 1, "c": [1, 2]}, "d": true}',
    )
    set_ = edit_param(as_json, "a[b]", {"x": "y"}, "auto", remove=False)
    assert json.loads(set_.text) == {"a": {"b": {"x": "y"}, "c": [1, 2]}, "d": True}
    removed = edit_param(as_json, "a[c][0]", None, "auto", remove=True)
    assert json.loads(removed.text) == {"a": {"b": 1, "c": [2]}, "d": True}
    forced = edit_param(as_json, "trace", "1", "query", remove=False)
    assert forced.query == "trace=1" and forced.body == as_json.body


KEYS = st.sampled_from(["amount", "currency", "customer", "metadata[a]", "metadata[b]", "x"])
VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@given(pairs=st.dictionaries(KEYS, VALUES, max_size=6), key=KEYS, value=VALUES)
def test_setting_a_parameter_changes_that_parameter_only(
    pairs: dict[str, str], key: str, value: str
) -> None:
    from harness.stripe import encode_form_pairs

    request = post("/v1/charges", encode_form_pairs(pairs.items()))
    after = dict(parse_qsl(edit_param(request, key, value, "auto", remove=False).text, True))
    assert after[key] == value
    assert {k: v for k, v in after.items() if k != key} == {
        k: v for k, v in pairs.items() if k != key
    }
    gone = dict(parse_qsl(edit_param(request, key, None, "auto", remove=True).text, True))
    assert gone == {k: v for k, v in pairs.items() if k != key}


# --- Charges → PaymentIntents ------------------------------------------------------------

CHARGE = (
    "amount=2000&currency=usd&customer=cus_Target000001&source=pm_Target000001"
    "&description=Order+1001&statement_descriptor=SHADOW+SHOP&metadata[order_id]=1001"
    "&capture=false&expand[0]=balance_transaction&expand[1]=customer&receipt_email=a%40b.c"
)


def test_a_charge_is_sent_as_a_confirmed_payment_intent_with_every_field_mapped() -> None:
    sent = only(chain([CHARGES_TO_PAYMENT_INTENTS]), post("/v1/charges", CHARGE))
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert tree(sent.text) == {
        "amount": "2000",
        "currency": "usd",
        "customer": "cus_Target000001",
        "payment_method": "pm_Target000001",
        "description": "Order 1001",
        "statement_descriptor_suffix": "SHADOW SHOP",
        "metadata": {"order_id": "1001"},
        "capture_method": "manual",
        "receipt_email": "a@b.c",
        "confirm": "true",
        "payment_method_types": ["card"],
        "expand": ["latest_charge.balance_transaction", "customer", "latest_charge"],
    }


def test_a_token_source_becomes_payment_method_data_and_a_captured_charge_no_method() -> None:
    sent = only(
        chain([{"name": CHARGES_TO_PAYMENT_INTENTS, "payment_method_types": ["card", "link"]}]),
        post("/v1/charges", "amount=500&currency=eur&source=tok_visa&capture=true"),
    )
    assert tree(sent.text) == {
        "amount": "500",
        "currency": "eur",
        "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}},
        "confirm": "true",
        "payment_method_types": ["card", "link"],
        "expand": ["latest_charge"],
    }


PAYMENT_INTENT = {
    "id": "pi_Target000001",
    "object": "payment_intent",
    "amount": 8000,
    "latest_charge": {
        "id": "ch_Target000001",
        "object": "charge",
        "customer": "cus_Target000001",
        "balance_transaction": "txn_Target000001",
    },
}
RECORDED_CHARGE = {
    "id": "ch_Recorded00001",
    "object": "charge",
    "customer": "cus_Recorded0001",
    "balance_transaction": "txn_Recorded0001",
    "payment_intent": None,
}


def test_the_answer_teaches_the_charge_and_a_later_capture_goes_to_the_payment_intent() -> None:
    ids = IdMap({"cus_Recorded0001": "cus_Target000001"})
    transforms = chain([CHARGES_TO_PAYMENT_INTENTS], ids)
    created = recorded(post("/v1/charges", "amount=8000&capture=false"), RECORDED_CHARGE)
    capture = post("/v1/charges/ch_Target000001/capture", "amount=6000")
    # Before the answer, the charge is unknown: its capture goes out as it was.
    assert only(transforms, capture).path == "/v1/charges/ch_Target000001/capture"
    answer = Response(200, [], json.dumps(PAYMENT_INTENT))
    assert transforms.learn(created, answer) == []
    assert ids.get("ch_Recorded00001") == "ch_Target000001"
    assert ids.get("txn_Recorded0001") == "txn_Target000001"
    sent = only(transforms, capture)
    assert sent.path == "/v1/payment_intents/pi_Target000001/capture"
    assert tree(sent.text) == {"amount_to_capture": "6000", "expand": ["latest_charge"]}
    # Reads and refunds need no transform: the id map sends them to the new charge.
    refund = post("/v1/refunds", "charge=ch_Target000001")
    assert only(transforms, refund) is refund


def test_only_a_payment_intent_answering_a_charge_teaches_anything() -> None:
    ids = IdMap()
    transforms = chain([CHARGES_TO_PAYMENT_INTENTS], ids)
    declined = Response(402, [], json.dumps({"error": {"code": "card_declined"}}))
    transforms.learn(recorded(post("/v1/charges", "amount=1"), RECORDED_CHARGE), declined)
    listed = Response(200, [], json.dumps(PAYMENT_INTENT))
    transforms.learn(recorded(post("/v1/customers", ""), RECORDED_CHARGE), listed)
    assert len(ids) == 0 and transforms.state == {}


# --- the chain: several requests, none, failures ------------------------------------------

USER_TRANSFORMS = '''
from harness.model import Request


def twice(request, context):
    """Create a customer first, then send the request."""
    first = Request("POST", "/v1/customers", headers=request.headers,
                    body="description=made+by+a+transform+for+" + str(context.seq))
    return [first, request]


def drop_deletes(request, context):
    return None if request.method == "DELETE" else request


def broken(request, context):
    raise RuntimeError("no " + context.params["what"])


def not_a_request(request, context):
    return "GET /v1/balance"


NOT_CALLABLE = 3
'''


@pytest.fixture
def user_module(tmp_path: Path) -> Path:
    (tmp_path / "mytransforms.py").write_text(USER_TRANSFORMS)
    return tmp_path


def test_a_transform_may_return_several_requests_or_none_and_failures_are_results(
    user_module: Path,
) -> None:
    request = post("/v1/customers/cus_Target000001", "metadata[a]=1")
    deleting = Request("DELETE", "/v1/customers/cus_Target000001")
    both = chain(["mytransforms:twice"], base=user_module).apply(recorded(request, seq=7), request)
    assert [(r.method, r.path) for r in both.requests] == [
        ("POST", "/v1/customers"),
        ("POST", "/v1/customers/cus_Target000001"),
    ]
    assert both.requests[0].body == "description=made+by+a+transform+for+7"
    keyed = post("/v1/customers/cus_Target000001", "", [("Idempotency-Key", "shadow-abc")])
    steps = own_idempotency_keys(
        chain(["mytransforms:twice"], base=user_module).apply(recorded(keyed), keyed).requests
    )
    assert [r.header("idempotency-key") for r in steps] == ["shadow-abc-step-1", "shadow-abc"]
    dropped = chain(["mytransforms:drop_deletes"], base=user_module)
    assert dropped.apply(recorded(deleting), deleting).skipped == (
        "skipped: transform mytransforms:drop_deletes sends nothing for this request"
    )
    assert dropped.apply(recorded(request), request).requests == [request]
    failing = chain([{"name": "mytransforms:broken", "what": "luck"}], base=user_module)
    assert failing.apply(recorded(request), request).skipped == (
        "transform mytransforms:broken failed: RuntimeError: no luck"
    )
    wrong = chain(["mytransforms:not_a_request"], base=user_module)
    assert "returned a str, not a Request" in str(wrong.apply(recorded(request), request).skipped)


def test_an_endpoint_glob_limits_a_transform_and_later_ones_see_earlier_output() -> None:
    transforms = chain(
        [
            CHARGES_TO_PAYMENT_INTENTS,
            {
                "name": "remove_param",
                "param": "description",
                "endpoint": "POST /v1/payment_intents",
            },
        ]
    )
    sent = only(transforms, post("/v1/charges", "amount=1&currency=usd&description=x"))
    assert "description" not in tree(sent.text)
    kept = post("/v1/customers", "description=x")
    assert only(transforms, kept) is kept


# --- finding transforms and checking a scenario's list ------------------------------------


def test_every_built_in_is_registered_with_a_parameter_model_and_documented() -> None:
    docs = (ROOT / "docs" / "transforms.md").read_text()
    assert set(TRANSFORMS) == {
        "set_header",
        "remove_header",
        "set_param",
        "remove_param",
        "charges_to_payment_intents",
    }
    for name, transform in TRANSFORMS.items():
        assert transform.params is not None and transform.summary
        assert f"`{name}`" in docs


@pytest.mark.parametrize(
    ("entry", "loc", "message"),
    [
        ("set_headr", (0, "name"), "unknown transform 'set_headr' (did you mean 'set_header'?"),
        ({"header": "X"}, (0, "name"), "missing (required)"),
        ({"name": "set_header", "value": "x"}, (0, "header"), "missing (required by set_header)"),
        (
            {"name": "remove_param", "param": "x", "bogus": 1},
            (0, "bogus"),
            "unknown parameter of remove_param (known: name, endpoint, param, in)",
        ),
        (
            {"name": "set_header", "header": "Idempotency-Key", "value": "x"},
            (0, "header"),
            "Idempotency-Key may not be changed by a transform",
        ),
        ({"name": "remove_param", "param": "x", "in": "body"}, (0, "in"), "expected 'auto'"),
        ("nosuchmodule:f", (0, "name"), "cannot import 'nosuchmodule' (ModuleNotFoundError"),
        ("mytransforms:nothing", (0, "name"), "module 'mytransforms' has no 'nothing'"),
        ("mytransforms:NOT_CALLABLE", (0, "name"), "is a int, not a function or Transform"),
        ({"name": "set_header", "endpoint": 3}, (0, "endpoint"), "expected a glob"),
        (7, (0,), "expected a transform name or a mapping"),
    ],
)
def test_a_transform_mistake_names_its_field(
    user_module: Path, entry: Any, loc: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ScenarioProblem) as caught:
        check_transforms([entry], user_module)
    assert caught.value.loc == loc
    assert message in str(caught.value), str(caught.value)


def test_a_transform_of_an_installed_package_is_found_by_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shadowplugin.py").write_text("def stamp(request, context):\n    return request\n")
    info = tmp_path / "shadowplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadowplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[stripe_shadow.transforms]\nstamp = shadowplugin:stamp\nbad = shadowplugin:missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # What this test's plugin registers is forgotten after it, as its package is.
    monkeypatch.setattr(TRANSFORMS, "_entries", dict(TRANSFORMS._entries))
    found = resolve_transform("stamp")
    assert isinstance(found, Transform) and found.rewrite.__name__ == "stamp"
    with pytest.raises(ScenarioProblem, match=r"entry point 'bad' .* cannot be loaded"):
        resolve_transform("bad")
    with pytest.raises(ScenarioProblem, match="known: bad, charges_to_payment_intents"):
        resolve_transform("unheard_of")


SCENARIO = """\
name: t
recording: r.jsonl
targets:
  - {name: control, launch: localstripe}
  - name: candidate
    launch: localstripe
    transforms:
      - {name: set_header, header: Stripe-Version, value: 2024-09-30.acacia}
      - %s
"""


def test_a_scenario_names_the_transform_it_cannot_use_by_field_and_line(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text('{"format": "stripe-shadow-recording", "version": 1}\n')
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO % "{name: set_headr, header: X, value: y}")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == (
        f"{path}: targets[1].transforms[1].name: unknown transform 'set_headr' (did you mean "
        "'set_header'? known: charges_to_payment_intents, remove_header, remove_param, "
        "set_header, set_param; or a dotted path module:function) (line 9)"
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    path.write_text(SCENARIO % "{name: remove_param, param: description}")
    loaded = load_scenario(path).target("candidate")
    assert [spec.to_json() for spec in loaded.transforms] == [
        {"name": "set_header", "header": "Stripe-Version", "value": "2024-09-30.acacia"},
        {"name": "remove_param", "param": "description"},
    ]


def test_the_api_version_pin_scenario_validates_without_being_run() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "api-version-pin.yaml")
    pins = {t.name: [(s.name, s.params["value"]) for s in t.transforms] for t in scenario.targets}
    assert pins == {
        "control": [("set_header", "2025-03-31.basil")],
        "control-again": [("set_header", "2025-03-31.basil")],
        "upgraded": [("set_header", "2026-10-28.endive")],
    }
    assert {t.role for t in scenario.targets} == {"baseline", "secondary", "candidate"}
    assert all(t.api_key_env == "STRIPE_TEST_KEY" for t in scenario.targets)


# --- a replay through transforms ----------------------------------------------------------


@pytest.mark.e2e
def test_a_replay_sends_what_the_transforms_make_one_result_line_per_seq(
    user_module: Path,
) -> None:
    recording(
        user_module / "r.jsonl",
        [
            exchange(
                0,
                "POST",
                "/v1/customers",
                form="email=a%40b.c&metadata[plan]=gold",
                answer={"id": "cus_Recorded00001", "object": "customer"},
            ),
            exchange(
                1,
                "POST",
                "/v1/customers/cus_Recorded00001",
                form="description=vip",
                answer={"id": "cus_Recorded00001", "object": "customer"},
            ),
            exchange(
                2,
                "DELETE",
                "/v1/customers/cus_Recorded00001",
                answer={"id": "cus_Recorded00001", "object": "customer", "deleted": True},
            ),
            exchange(3, "GET", "/v1/customers/cus_Recorded00001", answer={"id": "x"}),
        ],
    )
    (user_module / "s.yaml").write_text(
        textwrap.dedent(
            """\
            name: transformed
            recording: r.jsonl
            baseline: recording
            targets:
              - name: candidate
                launch: localstripe
                transforms:
                  - {name: set_param, param: "metadata[plan]", value: platinum,
                     endpoint: "POST /v1/customers"}
                  - {name: mytransforms:twice, endpoint: "POST /v1/customers/*"}
                  - mytransforms:drop_deletes
                  - {name: mytransforms:broken, what: luck, endpoint: "GET *"}
            """
        )
    )
    start_replay(load_scenario(user_module / "s.yaml"), out=user_module / "run")
    run = load_run(user_module / "run")
    lines = (user_module / "run" / "candidate.jsonl").read_text().splitlines()[1:]
    assert sorted(json.loads(line)["seq"] for line in lines) == [0, 1, 2, 3]
    results = run.exchanges("candidate")
    created = json.loads(results[0].response.text)  # type: ignore[union-attr]
    assert created["metadata"] == {"plan": "platinum"}  # localstripe got the transformed body
    updated = results[1]
    assert updated.request.path == f"/v1/customers/{created['id']}"  # ids rewritten first
    assert updated.extra["steps"] == [{"method": "POST", "path": "/v1/customers", "status": 200}]
    assert json.loads(updated.response.text)["description"] == "vip"  # type: ignore[union-attr]
    deleted = results[2]
    assert deleted.extra["skipped"] and deleted.response is None
    assert deleted.extra["notes"] == [
        "transform mytransforms:drop_deletes sends nothing for this request"
    ]
    assert results[3].error == "transform mytransforms:broken failed: RuntimeError: no luck"
    assert run.info.results["candidate"]["skipped"] == 2
    assert run.targets[0].transforms[0] == {
        "name": "set_param",
        "endpoint": "POST /v1/customers",
        "param": "metadata[plan]",
        "value": "platinum",
    }


def test_a_blueprint_is_one_line_and_its_transforms_run_before_the_targets_own(
    tmp_path: Path,
) -> None:
    (tmp_path / "r.jsonl").write_text('{"format": "stripe-shadow-recording", "version": 1}\n')
    text = (
        "name: t\nrecording: r.jsonl\ntargets:\n  - name: c\n    launch: localstripe\n"
        "    blueprint: charges_to_payment_intents\n"
        "    transforms: [{name: remove_param, param: description}]\n"
    )
    target = parse_scenario(text, tmp_path / "s.yaml").targets[0]
    assert [s.name for s in target.transforms] == [CHARGES_TO_PAYMENT_INTENTS, "remove_param"]
    with pytest.raises(ScenarioError, match=r"targets\[0\]\.blueprint: unknown blueprint 'c2pi'"):
        parse_scenario(text.replace("charges_to_payment_intents", "c2pi"), tmp_path / "s.yaml")
