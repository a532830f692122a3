"""The Stripe wire codec and id knowledge, on plain data."""

from __future__ import annotations

import random
import string

from hypothesis import given
from hypothesis import strategies as st

from harness.stripe import (
    KNOWN_COLLECTIONS,
    TEST_ACCOUNT_NUMBERS,
    TEST_IBANS,
    WRITE_EFFECTS,
    account_number_for_replay,
    collection_of,
    encode_form_pairs,
    encode_form_tree,
    endpoint_template,
    find_ids,
    form_key_path,
    form_tree,
    iban_for_replay,
    id_prefix,
    is_live_key,
    is_stripe_id,
    is_test_token,
    parse_form_pairs,
    read_collections,
    read_effect,
    write_effect,
)


def test_sdk_and_curl_encodings_of_arrays_parse_to_the_same_tree() -> None:
    sdk = "expand[0]=customer&expand[1]=latest_charge&items[0][price]=price_123&metadata[order]=42"
    curl = (
        "expand%5B%5D=customer&expand%5B%5D=latest_charge"
        "&items%5B0%5D%5Bprice%5D=price_123&metadata%5Border%5D=42"
    )
    expected = {
        "expand": ["customer", "latest_charge"],
        "items": [{"price": "price_123"}],
        "metadata": {"order": "42"},
    }
    assert form_tree(parse_form_pairs(sdk)) == expected
    assert form_tree(parse_form_pairs(curl)) == expected


def test_empty_value_and_plus_as_space_are_kept() -> None:
    assert parse_form_pairs("description=&name=Jenny+Rosen&flag") == [
        ("description", ""),
        ("name", "Jenny Rosen"),
        ("flag", ""),
    ]


def test_key_paths() -> None:
    assert form_key_path("amount") == ["amount"]
    assert form_key_path("items[0][price_data][recurring][interval]") == [
        "items",
        "0",
        "price_data",
        "recurring",
        "interval",
    ]
    assert form_key_path("expand[]") == ["expand", ""]


def test_tree_encoding_is_python_sdk_style() -> None:
    tree = {"amount": "100", "expand": ["a", "b"], "metadata": {"k": "v w"}, "capture": True}
    assert encode_form_tree(tree) == (
        "amount=100&expand[0]=a&expand[1]=b&metadata[k]=v%20w&capture=true"
    )


_names = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8)
_values = st.text(max_size=20)
_leaf_trees = st.recursive(
    _values,
    lambda children: st.one_of(
        st.dictionaries(_names, children, min_size=1, max_size=4),
        st.lists(children, min_size=1, max_size=4),
    ),
    max_leaves=12,
)


@given(st.dictionaries(_names, _leaf_trees, min_size=1, max_size=5))
def test_tree_round_trips_through_the_wire_encoding(tree: dict) -> None:
    assert form_tree(parse_form_pairs(encode_form_tree(tree))) == tree


@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=30)), max_size=8))
def test_pairs_round_trip_whatever_the_characters(pairs: list[tuple[str, str]]) -> None:
    assert parse_form_pairs(encode_form_pairs(pairs)) == pairs


def test_endpoint_templates_name_ids_by_prefix() -> None:
    assert endpoint_template(
        "post", "/v1/customers/cus_JSerUobn7lRVKY/sources/card_1AbCdEfGhIj"
    ) == ("POST /v1/customers/{customer}/sources/{card}")
    assert endpoint_template("GET", "/v1/subscription_schedules/sub_sched_1AbCdEfGh") == (
        "GET /v1/subscription_schedules/{subscription_schedule}"
    )
    # A plan may carry a user-chosen id: it is an id because of where it stands.
    assert endpoint_template("GET", "/v1/plans/gold-monthly") == "GET /v1/plans/{plan}"
    assert endpoint_template("GET", "/v1/customers/search") == "GET /v1/customers/search"
    assert endpoint_template("POST", "/v1/payment_intents/pi_3AbCdEfGhIj/confirm") == (
        "POST /v1/payment_intents/{payment_intent}/confirm"
    )


def test_ids_are_found_in_text_and_told_from_non_objects() -> None:
    text = "/v1/customers/cus_AAAAAAAA1?x=pi_12345678abc_secret_zz&r=req_123456789012"
    assert list(find_ids(text)) == ["cus_AAAAAAAA1", "pi_12345678abc"]
    assert is_stripe_id("sub_sched_abcdefgh12")
    assert id_prefix("sub_sched_abcdefgh12") == "sub_sched"
    assert id_prefix("sub_abcdefgh12") == "sub"
    assert not is_stripe_id("req_123456789012")  # a request id names no object
    assert not is_stripe_id("cus_short")
    assert not is_stripe_id("gold-monthly")
    # Words with a known prefix are not ids: a random base62 part has a digit or capital.
    assert not is_stripe_id("in_progress")
    assert not is_stripe_id("card_payments")
    assert list(find_ids("status=in_progress&capability=card_payments")) == []


def test_live_keys() -> None:
    assert is_live_key("sk_live_abcdefgh")
    assert is_live_key("rk_live_abcdefgh")
    assert not is_live_key("sk_test_abcdefgh")
    assert not is_live_key("pk_live_abcdefgh")  # publishable: cannot create objects


def valid_iban(iban: str) -> bool:
    """ISO 13616: the country and check digits moved to the end, as a number mod 97 = 1."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def test_every_test_iban_is_a_valid_iban_of_its_country() -> None:
    for country, ibans in TEST_IBANS.items():
        assert ibans and all(iban[:2] == country and valid_iban(iban) for iban in ibans)
    assert all(len(number) == 12 for number in TEST_ACCOUNT_NUMBERS)


@given(st.sampled_from([*sorted(TEST_IBANS), "IT", "PL", None]), st.text("0123456789", max_size=4))
def test_a_redacted_iban_always_replays_as_a_valid_test_iban(
    country: str | None, last4: str
) -> None:
    iban, note = iban_for_replay(country, last4)
    assert valid_iban(iban)
    if country in TEST_IBANS:
        assert iban in TEST_IBANS[country]  # of its own country
    if note is None:
        assert iban.endswith(last4) and (country is None or iban.startswith(country))
    number, note = account_number_for_replay(last4)
    assert number in TEST_ACCOUNT_NUMBERS and (note is not None or number.endswith(last4))


def test_what_a_write_can_change_is_known_per_collection_or_assumed_to_be_anything() -> None:
    charges = frozenset({"charges"})
    assert write_effect("payment_intents").touches(charges)  # a confirm creates a charge
    assert not write_effect("webhook_endpoints").touches(charges)
    assert write_effect("frobnicators").touches(charges)  # unknown: anything
    assert all(effect.touches(frozenset({"events"})) for effect in WRITE_EFFECTS.values())
    # A read of a collection the table does not know, or one that expands, sees anything.
    assert read_collections("terminal", expands=False) == {"*"}
    assert read_collections("charges", expands=True) == {"*"}
    assert read_collections("charges", expands=False) == charges
    assert "charges" in KNOWN_COLLECTIONS
    balance = read_effect("/v1/balance")
    assert balance is not None and balance.collections == {"events"}
    assert read_effect("/v1/balance/history") is None
    upcoming = read_effect("/v1/invoices/upcoming/lines")
    assert upcoming is not None and "invoices" in upcoming.collections


def test_the_collection_an_object_is_listed_in() -> None:
    assert collection_of("ch_3MtwBwLkdIwHu7ix") == "charges"
    assert collection_of("txn_1MtwBwLkdIwHu7ix") == "balance_transactions"
    assert collection_of("card_1MtwBwLkdIwHu7ix") == "sources"
    assert collection_of("gold") == ""


# Stripe's documented magic test values, as integrations send them.
MAGIC_TOKENS = (
    "tok_visa", "tok_visa_debit", "tok_mastercard_prepaid", "tok_amex", "tok_us", "tok_ca",
    "tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds", "tok_chargeDeclinedExpiredCard",
    "tok_riskLevelElevated", "tok_cvcCheckFail", "tok_avsLine1Fail", "tok_avsZipFail",
    "tok_bypassPendingInternational", "tok_createDisputeProductNotReceived",
    "tok_createDisputeInquiry", "tok_refundFail", "tok_threeDSecure2Required",
    "tok_visa_cartesBancaires", "pm_card_visa", "pm_card_visa_chargeDeclinedInsufficientFunds",
    "pm_card_threeDSecure2Required", "pm_card_amex_threeDSecureNotSupported", "pm_card_us",
    "btok_us_verified", "src_threeDSecureRequired",
)  # fmt: skip


def test_magic_test_tokens_are_no_ids_and_tokens_localstripe_made_are() -> None:
    """localstripe's ids are 14 random letters and digits: one in a thousand of its tokens
    starts with `us`, `ca`, `gb` or `eu`, a stem of Stripe's magic tokens. Taken for a magic
    token, such an id was sent as recorded, unknown to the target, and every request of
    its customer's journey after it was skipped."""
    assert all(is_test_token(token) for token in MAGIC_TOKENS)
    for made in ("tok_us9nIuVJJxulwB", "src_ca1xZ0aQq8PlmN", "tok_euKq3v9Bc0Xy1z", "tok_cvc0dF"):
        assert not is_test_token(made), made
    alphabet = string.ascii_letters + string.digits
    draw = random.Random(20261207)
    made_by_localstripe = [
        "tok_" + "".join(draw.choice(alphabet) for _ in range(14)) for _ in range(200_000)
    ]
    # Before: 215 of these (4 in 3,844 start with a two-letter stem); now none.
    assert sum(map(is_test_token, made_by_localstripe)) == 0
