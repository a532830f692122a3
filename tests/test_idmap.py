"""Id maps learnt from pairs of answers, and requests rewritten for a target, on plain data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.redact import redact_text
from harness.errors import InputError
from harness.model import Request
from harness.replay.idmap import IdMap, read_id_map_file
from harness.replay.rewrite import (
    TargetContext,
    idempotency_key,
    request_references,
    rewrite_request,
)
from harness.stripe import encode_form_pairs, form_tree, parse_form_pairs

TARGET = TargetContext(name="twin", run_id="run1", api_key="sk_test_target0001", port=4242)


def ids(mapping: dict[str, str]) -> IdMap:
    return IdMap(mapping)


# --- learning ----------------------------------------------------------------------------


def test_learns_ids_at_the_same_place_in_nested_objects_and_lists() -> None:
    recorded = {
        "id": "in_REC0000001",
        "object": "invoice",
        "customer": "cus_REC0000001",
        "lines": {
            "object": "list",
            "data": [{"id": "il_REC0000001", "amount": 900, "price": {"id": "price_REC0000001"}}],
        },
        "payment_intent": {"id": "pi_REC0000001", "object": "payment_intent"},
        "charge": "ch_REC0000001",
        "status": "paid",
    }
    replayed = {
        "id": "in_NEW0000001",
        "object": "invoice",
        "customer": "cus_NEW0000001",
        "lines": {
            "object": "list",
            "data": [{"id": "il_NEW0000001", "amount": 900, "price": {"id": "price_NEW0000001"}}],
        },
        "payment_intent": "pi_NEW0000001",  # not expanded on this target
        "charge": {"id": "ch_NEW0000001", "object": "charge"},  # expanded on this target
        "status": "open",
    }
    idmap = IdMap()
    assert idmap.learn(recorded, replayed) == 6
    assert idmap.ids == {
        "in_REC0000001": "in_NEW0000001",
        "cus_REC0000001": "cus_NEW0000001",
        "il_REC0000001": "il_NEW0000001",
        "price_REC0000001": "price_NEW0000001",
        "pi_REC0000001": "pi_NEW0000001",
        "ch_REC0000001": "ch_NEW0000001",
    }


def test_user_chosen_ids_map_to_themselves() -> None:
    idmap = IdMap()
    idmap.learn({"id": "gold", "object": "plan"}, {"id": "gold", "object": "plan"})
    assert idmap.get("gold") == "gold"


def test_never_overwrites_and_never_gives_one_target_id_twice() -> None:
    idmap = IdMap({"cus_SEED000001": "cus_TARGET00001"})
    idmap.learn({"customer": "cus_SEED000001"}, {"customer": "cus_OTHER000001"})
    idmap.learn({"customer": "cus_REC0000002"}, {"customer": "cus_TARGET00001"})
    assert idmap.ids == {"cus_SEED000001": "cus_TARGET00001"}


def test_ids_of_other_kinds_codes_and_other_objects_are_not_paired() -> None:
    idmap = IdMap()
    idmap.learn({"customer": "cus_REC0000001"}, {"customer": "pi_NEW0000001"})
    idmap.learn(
        {"error": {"code": "card_declined", "charge": "ch_REC0000001"}},
        {"error": {"code": "card_declined", "charge": "ch_NEW0000001"}},
    )
    idmap.learn(
        {"object": "charge", "id": "ch_REC0000002"}, {"object": "refund", "id": "re_NEW0000002"}
    )
    assert idmap.ids == {"ch_REC0000001": "ch_NEW0000001"}


def test_list_items_pair_by_known_ids_first_then_by_what_they_say() -> None:
    idmap = IdMap({"cus_REC0000001": "cus_NEW0000001"})
    recorded = {
        "object": "list",
        "data": [
            {"id": "cus_REC0000001", "email": "a@x.org", "default_source": "card_REC0000001"},
            {"id": "cus_REC0000002", "email": "b@x.org", "default_source": "card_REC0000002"},
        ],
    }
    replayed = {  # newest first on this target: the known customer is second
        "object": "list",
        "data": [
            {"id": "cus_NEW0000002", "email": "b@x.org", "default_source": "card_NEW0000002"},
            {"id": "cus_NEW0000001", "email": "a@x.org", "default_source": "card_NEW0000001"},
        ],
    }
    idmap.learn(recorded, replayed)
    assert idmap.get("card_REC0000001") == "card_NEW0000001"
    assert idmap.get("cus_REC0000002") == "cus_NEW0000002"
    assert idmap.get("card_REC0000002") == "card_NEW0000002"


def test_events_pair_by_the_object_they_are_about_not_by_position() -> None:
    """Two events of one type, listed in the other order: their data.object ids are
    known, so each event pairs with its own, and its own id is learnt."""
    idmap = IdMap({"pi_REC0000001": "pi_NEW0000001", "pi_REC0000002": "pi_NEW0000002"})

    def event(event_id: str, intent: str) -> dict[str, object]:
        return {
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": intent, "object": "payment_intent", "amount": 500}},
        }

    recorded = [event("evt_REC0000001", "pi_REC0000001"), event("evt_REC0000002", "pi_REC0000002")]
    replayed = [event("evt_NEW0000002", "pi_NEW0000002"), event("evt_NEW0000001", "pi_NEW0000001")]
    idmap.learn({"object": "list", "data": recorded}, {"object": "list", "data": replayed})
    assert idmap.get("evt_REC0000001") == "evt_NEW0000001"
    assert idmap.get("evt_REC0000002") == "evt_NEW0000002"


def test_a_list_one_item_longer_still_teaches_what_is_unambiguous() -> None:
    idmap = IdMap()
    recorded = [{"id": "re_REC0000001", "object": "refund", "amount": 100}]
    replayed = [
        {"id": "re_NEW0000009", "object": "refund", "amount": 700},
        {"id": "re_NEW0000001", "object": "refund", "amount": 100},
    ]
    idmap.learn({"data": recorded}, {"data": replayed})
    assert idmap.ids == {"re_REC0000001": "re_NEW0000001"}


def test_items_that_say_the_same_are_not_told_apart_by_guessing() -> None:
    idmap = IdMap()
    same = {"object": "refund", "amount": 100}
    idmap.learn(
        {"data": [{"id": "re_REC0000001", **same}, {"id": "re_REC0000002", **same}]},
        {"data": [{"id": "re_NEW0000002", **same}, {"id": "re_NEW0000001", **same}]},
    )
    assert len(idmap) == 0


def test_lists_that_cannot_be_paired_teach_nothing() -> None:
    idmap = IdMap()
    idmap.learn(
        {"data": [{"id": "cus_REC0000001"}, {"id": "cus_REC0000002"}]},
        {"data": [{"id": "cus_NEW0000001"}]},
    )
    assert len(idmap) == 0


def test_client_secrets_are_paired_in_memory_only() -> None:
    idmap = IdMap()
    idmap.learn(
        {"id": "pi_REC0000001", "client_secret": "pi_REC0000001_secret_<redacted>"},
        {"id": "pi_NEW0000001", "client_secret": "pi_NEW0000001_secret_abc123"},
    )
    assert idmap.secret("pi_REC0000001_secret_<redacted>") == "pi_NEW0000001_secret_abc123"
    assert "secret" not in json.dumps(idmap.to_json("twin"))


# --- rewriting ---------------------------------------------------------------------------

KNOWN = {
    "cus_REC0000001": "cus_NEW0000001",
    "card_REC0000001": "card_NEW0000001",
    "price_REC0000001": "price_NEW0000001",
    "pi_REC0000001": "pi_NEW0000001",
    "acct_REC0000001": "acct_NEW0000001",
}


def test_rewrites_ids_in_the_path_and_the_query() -> None:
    request = Request(
        "GET",
        "/v1/customers/cus_REC0000001/sources/card_REC0000001",
        query="expand%5B%5D=customer&starting_after=card_REC0000001&limit=3",
    )
    sent = rewrite_request(request, 0, ids(KNOWN), TARGET)
    assert sent.request.path == "/v1/customers/cus_NEW0000001/sources/card_NEW0000001"
    assert sent.request.query == "expand%5B%5D=customer&starting_after=card_NEW0000001&limit=3"
    assert sent.unresolved == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "customer=cus_REC0000001&items[0][price]=price_REC0000001&metadata[note]=hi+there",
            "customer=cus_NEW0000001&items[0][price]=price_NEW0000001&metadata[note]=hi+there",
        ),
        (
            "customer=cus_REC0000001&items%5B0%5D%5Bprice%5D=price_REC0000001&expand%5B%5D=latest_invoice",
            "customer=cus_NEW0000001&items%5B0%5D%5Bprice%5D=price_NEW0000001&expand%5B%5D=latest_invoice",
        ),
    ],
)
def test_rewrites_form_bodies_in_both_bracket_encodings_keeping_keys_as_they_were(
    body: str, expected: str
) -> None:
    request = Request(
        "POST",
        "/v1/subscriptions",
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
        body=body,
    )
    assert rewrite_request(request, 0, ids(KNOWN), TARGET).request.body == expected


def test_rewrites_nested_json_bodies() -> None:
    body = {
        "customer": "cus_REC0000001",
        "items": [{"price": "price_REC0000001", "note": "cus_x"}],
        "deep": {"list": [["pi_REC0000001"]]},
    }
    request = Request(
        "POST", "/v2/things", headers=[("Content-Type", "application/json")], body=json.dumps(body)
    )
    sent = json.loads(rewrite_request(request, 0, ids(KNOWN), TARGET).request.text)
    assert sent == {
        "customer": "cus_NEW0000001",
        "items": [{"price": "price_NEW0000001", "note": "cus_x"}],
        "deep": {"list": [["pi_NEW0000001"]]},
    }


def test_rewrites_the_connected_account_header() -> None:
    request = Request("GET", "/v1/balance", headers=[("Stripe-Account", "acct_REC0000001")])
    assert (
        rewrite_request(request, 0, ids(KNOWN), TARGET).request.header("Stripe-Account")
        == "acct_NEW0000001"
    )


def test_ids_with_no_counterpart_are_listed_and_left_as_they_were() -> None:
    request = Request(
        "POST",
        "/v1/customers/cus_GONE000001",
        body="default_source=card_GONE000001&x=cus_REC0000001",
        headers=[("Stripe-Account", "acct_GONE000001")],
    )
    mapped_accounts = dataclasses.replace(TARGET, same_accounts=False)
    sent = rewrite_request(request, 0, ids(KNOWN), mapped_accounts)
    assert sent.unresolved == ["cus_GONE000001", "card_GONE000001", "acct_GONE000001"]
    assert sent.request.path == "/v1/customers/cus_GONE000001"
    assert sent.request.body == "default_source=card_GONE000001&x=cus_NEW0000001"


def test_accounts_and_pass_through_ids_exist_on_the_target_as_recorded() -> None:
    """`accounts: same` (the default): a connected account the map does not know is the
    platform's own; an id with a pass-through prefix exists on the target as recorded, and
    so does its client secret's object. The map still wins where it knows an id."""
    request = Request(
        "POST",
        "/v1/transfers",
        body=(
            "destination=acct_PLAT000001&metadata[order]=7&customer=cus_OLD0000001"
            "&source_transaction=ch_GONE000001&client_secret=pi_OLD0000001_secret_abc"
        ),
        headers=[("Stripe-Account", "acct_REC0000001")],
    )
    target = dataclasses.replace(TARGET, pass_through=("cus_", "pi_"))
    sent = rewrite_request(request, 0, ids(KNOWN), target)
    assert sent.unresolved == ["ch_GONE000001"]
    assert sent.request.header("Stripe-Account") == "acct_NEW0000001"  # the map's
    assert sent.request.body == request.body


def test_user_chosen_ids_and_test_tokens_stay_as_they_are() -> None:
    request = Request(
        "POST",
        "/v1/plans/gold",
        body="id=silver&product=prod_KEEP00001x&coupon=SUMMER&source=tok_visa",
    )
    sent = rewrite_request(request, 0, ids({"prod_KEEP00001x": "prod_NEW0000001"}), TARGET)
    assert sent.request.path == "/v1/plans/gold"
    assert sent.request.body == "id=silver&product=prod_NEW0000001&coupon=SUMMER&source=tok_visa"
    assert sent.unresolved == []
    migrated = rewrite_request(
        Request("POST", "/v1/subscriptions", body="items[0][plan]=gold"),
        0,
        ids({"gold": "price_MIGRATED001"}),
        TARGET,
    )
    assert migrated.request.body == "items[0][plan]=price_MIGRATED001"


def test_client_secrets_are_rewritten_or_reported() -> None:
    idmap = IdMap()
    idmap.learn(
        {"client_secret": "pi_REC0000001_secret_<redacted>"},
        {"client_secret": "pi_NEW0000001_secret_s3"},
    )
    body = "client_secret=pi_REC0000001_secret_%3Credacted%3E"
    assert rewrite_request(Request("POST", "/v1/x", body=body), 0, idmap, TARGET).request.body == (
        "client_secret=pi_NEW0000001_secret_s3"
    )
    unknown = rewrite_request(
        Request("POST", "/v1/x", body="client_secret=pi_OTHER00001_secret_<redacted>"),
        0,
        idmap,
        TARGET,
    )
    assert unknown.unresolved == ["pi_OTHER00001"]


def test_redacted_cards_become_the_matching_test_cards_on_test_targets_only() -> None:
    body = "type=card&card[number]=<redacted:card:0002>&card[cvc]=<redacted:cvc>&card[exp_month]=12"
    request = Request("POST", "/v1/payment_methods", body=body)
    sent = rewrite_request(request, 0, IdMap(), TARGET)
    assert form_tree(parse_form_pairs(sent.request.text))["card"] == {
        "number": "4000000000000002",
        "cvc": "123",
        "exp_month": "12",
    }
    assert sent.notes == []
    unknown = rewrite_request(
        Request("POST", "/v1/tokens", body="card[number]=%3Credacted%3Acard%3A1234%3E"),
        0,
        IdMap(),
        TARGET,
    )
    assert unknown.request.body == "card[number]=4242424242424242"
    assert unknown.notes == ["card ending 1234 has no test card; sent 4242424242424242"]
    live = TargetContext(name="live", run_id="run1", api_key="sk_live_x", live=True)
    on_live = rewrite_request(request, 0, IdMap(), live)
    assert on_live.request.body == body  # no test card for a live account...
    assert on_live.redacted == [  # ...so the request holds markers, and is never sent
        "body: <redacted:card:0002>",
        "body: <redacted:cvc>",
    ]


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("4000 0000 0000 0002", "4000 0000 0000 0002"),
        ("4000-0000-0000-0002", "4000-0000-0000-0002"),
        ("4000  0000  0000  0002", "4000  0000  0000  0002"),
        ("4000.0000.0000.0002", "4000.0000.0000.0002"),
        ("4000000000000002", "4000000000000002"),
        # 19 digits, and the test card ending 0002 has 16: sent as bare digits.
        ("4000 0000 0000 0040 002", "4000000000000002"),
    ],
)
def test_a_test_card_is_sent_written_as_the_recorded_card_was(written: str, sent: str) -> None:
    # A target may refuse a number with blanks (or take it): the replay writes its test
    # card as the recorded one was written, so it answers as it did then.
    recorded = redact_text(encode_form_pairs([("card[number]", written), ("card[cvc]", "123")]))
    assert "0002" in recorded and written not in recorded
    rewritten = rewrite_request(Request("POST", "/v1/tokens", body=recorded), 0, IdMap(), TARGET)
    assert dict(parse_form_pairs(rewritten.request.text))["card[number]"] == sent
    assert rewritten.redacted == []


def sent_form(body: str) -> dict[str, object]:
    rewritten = rewrite_request(
        Request("POST", "/v1/payment_methods", body=body), 0, IdMap(), TARGET
    )
    assert rewritten.redacted == []
    return {"form": form_tree(parse_form_pairs(rewritten.request.text)), "notes": rewritten.notes}


def test_redacted_ibans_become_test_ibans_of_their_country_with_the_same_last_four() -> None:
    fails = sent_form("type=sepa_debit&sepa_debit[iban]=<redacted:iban:FR:2607>")
    assert fails == {
        "form": {"type": "sepa_debit", "sepa_debit": {"iban": "FR8420041010050500013M02607"}},
        "notes": [],
    }
    other = sent_form("sepa_debit[iban]=<redacted:iban:NL:9999>")
    assert other["form"] == {"sepa_debit": {"iban": "NL39RABO0300065264"}}
    assert other["notes"] == [
        "IBAN ending 9999 has no test IBAN with those last four; sent NL39RABO0300065264"
    ]
    # A marker from before IBANs kept their country: a test IBAN with its last four.
    older = sent_form("sepa_debit%5Biban%5D=%3Credacted%3Abank_account%3A3001%3E")
    assert older["form"] == {"sepa_debit": {"iban": "DE62370400440532013001"}}
    italian = sent_form("sepa_debit[iban]=<redacted:iban:IT:3456>")
    assert italian["form"] == {"sepa_debit": {"iban": "DE89370400440532013000"}}
    assert italian["notes"] == [
        "IBAN of IT has no test IBAN of its country; sent DE89370400440532013000"
    ]


def test_redacted_account_numbers_become_stripes_test_account_and_routing_numbers() -> None:
    declined = sent_form(
        "bank_account[account_number]=<redacted:bank_account:2227>"
        "&bank_account[routing_number]=021000021&bank_account[country]=US"
    )
    assert declined["form"] == {
        "bank_account": {
            "account_number": "000222222227",
            "routing_number": "110000000",
            "country": "US",
        }
    }
    encoded = sent_form(  # as curl sends it, brackets and marker percent-encoded
        "bank_account%5Baccount_number%5D=%3Credacted%3Abank_account%3A6789%3E"
        "&bank_account%5Brouting_number%5D=021000021"
    )
    assert encoded["form"] == {
        "bank_account": {"account_number": "000123456789", "routing_number": "110000000"}
    }
    unknown = sent_form("account_number=<redacted:bank_account:1234>")
    assert unknown == {
        "form": {"account_number": "000123456789"},
        "notes": ["account number ending 1234 has no test account; sent 000123456789"],
    }
    # A routing number alone is no secret and is sent as recorded.
    assert sent_form("routing_number=021000021")["form"] == {"routing_number": "021000021"}


def test_redacted_identity_and_routing_numbers_become_stripes_test_numbers() -> None:
    sent = sent_form(
        "individual[id_number]=<redacted:id_number>&individual[ssn_last_4]=<redacted:ssn_last_4>"
        "&routing_number=<redacted:routing_number>"
    )
    assert sent["form"] == {
        "individual": {"id_number": "000000000", "ssn_last_4": "0000"},
        "routing_number": "110000000",
    }
    assert sent["notes"] == []


def test_redacted_branch_numbers_and_a_mistyped_card_become_stripes_test_numbers() -> None:
    """A bank's branch becomes its field's test number; a mistyped card (redaction marks
    it card_invalid) one that fails the Luhn check too, so the target refuses it as Stripe
    did. Each as the redactor writes it."""
    recorded = redact_text(
        "au_becs_debit[bsb_number]=082082&bacs_debit[sort_code]=200000"
        "&acss_debit[transit_number]=00006&acss_debit[institution_number]=003"
        "&card[number]=4242424242424241&card[cvc]=271"
    )
    assert "082082" not in recorded and "4242424242424241" not in recorded
    sent = sent_form(recorded)
    assert sent["form"] == {
        "au_becs_debit": {"bsb_number": "000000"},
        "bacs_debit": {"sort_code": "108800"},
        "acss_debit": {"transit_number": "11000", "institution_number": "000"},
        "card": {"number": "4242424242424241", "cvc": "123"},
    }
    assert sent["notes"] == [
        "a mistyped card number (it fails the Luhn check); sent 4242424242424241"
    ]


def test_a_redacted_secret_the_replay_has_no_value_for_is_reported_never_sent() -> None:
    request = Request(
        "POST",
        "/v1/tokens",
        body="key=pk_test_<redacted:1a2b3c4d>&card[number]=<redacted:card:4242>",
        headers=[("X-Partner-Token", "<redacted>")],
    )
    rewritten = rewrite_request(request, 0, IdMap(), TARGET)
    assert rewritten.redacted == ["body: <redacted:1a2b3c4d>", "header X-Partner-Token: <redacted>"]


def test_each_target_sends_its_own_key_and_headers_never_the_recorded_ones() -> None:
    request = Request(
        "POST",
        "/v1/customers",
        headers=[
            ("Authorization", "Bearer sk_test_<redacted:1a2b3c4d>"),
            ("Stripe-Version", "2020-08-27"),
            ("X-Stripe-Client-Telemetry", '{"last_request_metrics": {"request_id": "req_1"}}'),
            ("Content-Length", "9"),
            ("Idempotency-Key", "abc"),
        ],
        body="email=x%40y",
    )
    target = TargetContext(
        name="twin",
        run_id="run1",
        api_key="sk_test_mine0001",
        headers=(("Stripe-Version", "2025-03-31.basil"),),
    )
    sent = rewrite_request(request, 7, IdMap(), target).request
    names = [name.lower() for name, _ in sent.headers]
    assert (
        names.count("authorization") == 1
        and sent.header("authorization") == "Bearer sk_test_mine0001"
    )
    assert (
        sent.header("stripe-version") == "2025-03-31.basil" and names.count("stripe-version") == 1
    )
    assert "x-stripe-client-telemetry" not in names and "content-length" not in names
    assert sent.header("idempotency-key") == idempotency_key("run1", "twin", "abc")
    nokey = rewrite_request(
        Request("GET", "/v1/balance"), 0, IdMap(), TargetContext(name="m", run_id="r")
    )
    assert (
        nokey.request.header("authorization") is None
        and nokey.request.header("idempotency-key") is None
    )


def test_headers_the_recording_clients_connection_owned_are_never_sent() -> None:
    request = Request(
        "POST",
        "/v1/files",
        headers=[
            ("Expect", "100-continue"),
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authorization", "Basic eDp5"),
            ("TE", "trailers"),
            ("Trailer", "X-Checksum"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Stripe-Version", "2020-08-27"),
            ("X-End-To-End", "kept"),
        ],
        body="purpose=dispute_evidence",
    )
    sent = rewrite_request(request, 0, IdMap(), TARGET).request
    # What follows them is the target's own: its key and an Idempotency-Key.
    assert [name for name, _ in sent.headers] == [
        "Stripe-Version",
        "X-End-To-End",
        "Authorization",
        "Idempotency-Key",
    ]
    # A Connection header that names no other header drops only itself.
    plain = Request("GET", "/v1/balance", headers=[("Connection", "close"), ("X-Close", "1")])
    assert rewrite_request(plain, 0, IdMap(), TARGET).request.headers[:1] == [("X-Close", "1")]


def test_idempotency_keys_are_unique_per_run_and_target_and_keep_retries_together() -> None:
    first = idempotency_key("run1", "control", "k1")
    assert first == idempotency_key("run1", "control", "k1")
    assert (
        len(
            {
                first,
                idempotency_key("run1", "control", "k2"),
                idempotency_key("run1", "twin", "k1"),
                idempotency_key("run2", "control", "k1"),
            }
        )
        == 4
    )
    post = Request("POST", "/v1/customers")
    keys = {
        rewrite_request(post, seq, IdMap(), TARGET).request.header("idempotency-key")
        for seq in (1, 2)
    }
    assert len(keys) == 2  # a POST recorded without a key gets one of its own, for safe retries


def test_references_report_where_each_id_was_found() -> None:
    request = Request(
        "POST",
        "/v1/customers/cus_REC0000001",
        query="starting_after=cus_REC0000002",
        body="invoice_settings[default_payment_method]=pm_REC0000001&plan=gold",
        headers=[("Stripe-Account", "acct_REC0000001")],
    )
    assert list(request_references(request)) == [
        ("id", "cus_REC0000001", "path"),
        ("cursor", "cus_REC0000002", "query"),
        ("id", "pm_REC0000001", "body"),
        ("custom", "gold", "body"),
        ("id", "acct_REC0000001", "header"),
    ]


# --- properties --------------------------------------------------------------------------

# A Stripe id's random part holds a digit or a capital letter (harness.stripe._ID_BODY).
ID_VALUES = st.builds(
    lambda prefix, tail, digit: f"{prefix}_{tail}{digit}",
    st.sampled_from(["cus", "pi", "ch", "price", "card", "sub", "in"]),
    st.text(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=7, max_size=13
    ),
    st.sampled_from("0123456789"),
)
PLAIN_VALUES = st.text(st.characters(codec="utf-8", exclude_characters="_<"), max_size=8)
KEYS = st.sampled_from(
    ["customer", "items[0][price]", "metadata[k]", "expand[]", "description", "a[b][c]"]
)


@st.composite
def form_request(draw: st.DrawFn) -> tuple[Request, list[str]]:
    pairs = draw(st.lists(st.tuples(KEYS, ID_VALUES | PLAIN_VALUES), max_size=6))
    encode_keys = draw(st.booleans())
    body = "&".join(
        f"{quote(key, safe='' if encode_keys else '[]')}={quote(value, safe='')}"
        for key, value in pairs
    )
    path_id = draw(ID_VALUES)
    request = Request(
        "POST",
        f"/v1/things/{path_id}",
        body=body,
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
    )
    return request, [path_id] + [v for _, v in pairs if "_" in v]


@settings(max_examples=150, deadline=None)
@given(form_request())
def test_rewriting_with_a_map_and_then_its_inverse_gives_back_the_request(
    item: tuple[Request, list[str]],
) -> None:
    request, found = item
    forward = {value: "zz" + value[::-1].replace("_", "Q") for value in found}
    forward = {k: k.split("_", 1)[0] + "_" + v for k, v in forward.items()}
    if len(set(forward.values())) != len(forward):
        return
    there = rewrite_request(request, 0, ids(forward), TARGET).request
    assert all(value not in there.path + there.text for value in set(found) - set(forward.values()))
    back = rewrite_request(there, 0, ids({v: k for k, v in forward.items()}), TARGET).request
    assert back.path == request.path
    assert back.body == request.body


@settings(max_examples=150, deadline=None)
@given(form_request())
def test_rewriting_with_the_identity_changes_no_byte(item: tuple[Request, list[str]]) -> None:
    request, found = item
    sent = rewrite_request(request, 0, ids({value: value for value in found}), TARGET)
    assert sent.unresolved == []
    assert (sent.request.path, sent.request.query, sent.request.body) == (
        request.path,
        request.query,
        request.body,
    )


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_a_target_id_is_sent_percent_encoded_in_the_path_and_a_form(target_id: str) -> None:
    """Whatever a target's id holds, it goes into the path and the form as `quote` writes
    it (an id or a number of plain characters is sent as it is, without the call)."""
    request = Request(
        "POST",
        "/v1/customers/cus_R0000001",
        body="customer=cus_R0000001",
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
    )
    sent = rewrite_request(request, 0, ids({"cus_R0000001": target_id}), TARGET).request
    assert sent.path == "/v1/customers/" + quote(target_id, safe="")
    assert sent.body == "customer=" + quote(target_id, safe="")


# --- seed files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "map.csv",
            "old_id,new_id\ncus_OLD0000001,cus_NEW0000001\n\npm_OLD0000001, pm_NEW0000001\n",
        ),
        ("map.csv", "cus_OLD0000001,cus_NEW0000001\npm_OLD0000001,pm_NEW0000001\n"),
        ("map.json", '{"cus_OLD0000001": "cus_NEW0000001", "pm_OLD0000001": "pm_NEW0000001"}'),
        (
            "idmap.json",
            '{"version": 1, "target": "x", "ids": {"cus_OLD0000001": "cus_NEW0000001",'
            ' "pm_OLD0000001": "pm_NEW0000001"}}',
        ),
        (
            "pairs.json",
            '[["cus_OLD0000001", "cus_NEW0000001"], {"old_id": "pm_OLD0000001", '
            '"new_id": "pm_NEW0000001"}]',
        ),
    ],
)
def test_mapping_files_in_every_shape(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert read_id_map_file(path) == {
        "cus_OLD0000001": "cus_NEW0000001",
        "pm_OLD0000001": "pm_NEW0000001",
    }


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("map.csv", "old_id,new_id\ncus_A\n", "map.csv:2: expected old_id,new_id"),
        (
            "map.csv",
            "cus_OLD0000001,cus_NEW0000001\ncus_OLD0000001,cus_NEW0000002\n",
            "map.csv:2: cus_OLD0000001 is mapped twice",
        ),
        ("map.json", '{"cus_A": 3}', "map.json: 'cus_A': ids must be non-empty strings"),
        ("map.json", '{"cus_A": ', "map.json:1: not valid JSON"),
        ("map.json", "[1]", "map.json: [0]: expected [old_id, new_id]"),
    ],
)
def test_mapping_file_mistakes_name_file_and_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_id_map_file(path)
    assert str(caught.value).startswith(f"{tmp_path}/{expected}"), str(caught.value)


def test_new_objects_listed_in_another_order_are_paired_by_content() -> None:
    # An invoice's lines created in the same second may come back in either order.
    recorded = {
        "id": "in_Rec0000001",
        "object": "invoice",
        "lines": {
            "object": "list",
            "data": [
                {"id": "il_RecUnused1", "amount": -900, "description": "Unused time"},
                {"id": "il_RecSeats01", "amount": 1200, "description": "Extra seats"},
            ],
        },
    }
    replayed = {
        "id": "in_Tgt0000001",
        "object": "invoice",
        "lines": {
            "object": "list",
            "data": [
                {"id": "il_TgtSeats01", "amount": 1200, "description": "Extra seats"},
                {"id": "il_TgtUnused1", "amount": -900, "description": "Unused time"},
            ],
        },
    }
    id_map = IdMap()
    id_map.learn(recorded, replayed)
    assert id_map.get("il_RecUnused1") == "il_TgtUnused1"
    assert id_map.get("il_RecSeats01") == "il_TgtSeats01"


# What a listed event may say (type, amount): a small pool, so that two items often say
# the same; items added on one side say what no recorded item says (an item added in the
# place of a dropped one, saying exactly what it said, is one nothing can tell apart).
EVENT_CONTENT = st.tuples(
    st.sampled_from(["payment_intent.succeeded", "charge.refunded", "customer.updated"]),
    st.sampled_from([100, 500, 900]),
)
ADDED_CONTENT = st.tuples(st.just("invoice.created"), st.integers(10_000, 10_050))


def listed_event(event_id: str, about: str, content: tuple[str, int]) -> dict[str, object]:
    kind, amount = content
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "data": {"object": {"id": about, "object": "payment_intent", "amount": amount}},
    }


@st.composite
def one_list_on_two_targets(
    draw: st.DrawFn,
) -> tuple[list[dict[str, object]], list[dict[str, object]], dict[str, str], dict[str, str]]:
    """A recorded page of events, the same page on a target (its ids its own, shuffled,
    some items dropped, some added), the true counterpart of every recorded id, and what
    the id map knew beforehand (some events, some of the objects they are about)."""
    count = draw(st.integers(0, 8))
    truth: dict[str, str] = {}
    recorded, replayed = [], []
    for index in range(count):
        event, about = f"evt_REC{index:07d}", f"pi_REC{draw(st.integers(0, 3)):07d}"
        truth[event] = event.replace("REC", "NEW")
        truth[about] = about.replace("REC", "NEW")
        content = draw(EVENT_CONTENT)
        recorded.append(listed_event(event, about, content))
        if not draw(st.booleans()) or not draw(st.booleans()):  # a quarter are dropped
            replayed.append(listed_event(truth[event], truth[about], content))
    for index in range(draw(st.integers(0, 3))):
        about = f"pi_NEW{draw(st.integers(0, 5)):07d}"
        replayed.append(listed_event(f"evt_ADD{index:07d}", about, draw(ADDED_CONTENT)))
        if draw(st.booleans()) and replayed:  # an item added that says what a kept one says
            twin = dict(draw(st.sampled_from(replayed)))
            twin["id"] = f"evt_TWN{index:07d}"
            replayed.append(twin)
    replayed = draw(st.permutations(replayed))
    seeds = {k: v for k, v in truth.items() if draw(st.booleans())}
    return recorded, replayed, truth, seeds


@settings(max_examples=300, deadline=None)
@given(one_list_on_two_targets())
def test_list_items_are_never_paired_wrongly_and_unambiguous_ones_always_are(
    case: tuple[list[dict[str, object]], list[dict[str, object]], dict[str, str], dict[str, str]],
) -> None:
    recorded, replayed, truth, seeds = case
    idmap = IdMap(seeds)
    idmap.learn({"object": "list", "data": recorded}, {"object": "list", "data": replayed})
    learnt = dict(idmap.ids.items())
    assert all(truth.get(one) == other for one, other in learnt.items()), learnt
    # An event present on both sides that says what no other item on either side says
    # (its type, amount and, once known, the object it is about) is always learnt.
    present = {str(item["id"]) for item in replayed}

    def says(item: dict[str, object], target: str | None) -> tuple[object, ...]:
        inner = item["data"]["object"]  # type: ignore[index]
        return (item["type"], inner["amount"], target)  # type: ignore[index]

    known = set(learnt.values())

    def about(item: dict[str, object]) -> str:
        return str(item["data"]["object"]["id"])  # type: ignore[index]

    for item in recorded:
        event = str(item["id"])
        if truth[event] not in present:
            continue
        mine = says(item, learnt.get(about(item)))
        theirs = [
            says(other, about(other) if about(other) in known else None)
            for other in replayed
            if other["id"] != truth[event]
        ]
        ours = [says(other, learnt.get(about(other))) for other in recorded if other is not item]
        if mine not in theirs + ours:
            assert learnt.get(event) == truth[event], (event, learnt)


def test_a_token_whose_random_id_starts_like_a_magic_one_is_rewritten() -> None:
    request = Request("POST", "/v1/customers", body="source=tok_us9nIuVJJxulwB&email=a%40b.c")
    sent = rewrite_request(request, 0, ids({"tok_us9nIuVJJxulwB": "tok_Q0newTokenAb"}), TARGET)
    assert sent.request.body == "source=tok_Q0newTokenAb&email=a%40b.c"
    assert sent.unresolved == []
