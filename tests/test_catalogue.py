"""The catalogue of Stripe API versions: the notation of field types, the rule that tells
timestamps from other integers, the reader of an SDK release's source, which catalogue
describes which version, and the shipped files against a fresh build from PyPI."""

from __future__ import annotations

import gzip
import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import InputError
from harness.stripe.catalogue import (
    DATA,
    SUFFIX,
    FieldType,
    catalogue,
    catalogue_for,
    changelog_url,
    parse_field_type,
    resolve_version,
    shipped_versions,
)
from harness.stripe.catalogue.build import RELEASES, build_version, encode
from harness.stripe.catalogue.sdk import is_timestamp, read_sdk
from tests.parts import registry_allowed

_names = st.from_regex(r"[a-z][a-z_.#A-Z]{0,12}", fullmatch=True)
_scalars = st.builds(
    FieldType,
    st.sampled_from(["str", "int", "num", "bool", "time", "any", "obj"]),
    st.booleans(),
)
_named = st.builds(
    FieldType,
    st.sampled_from(["enum", "ref", "obj", "list"]),
    st.booleans(),
    st.lists(_names, min_size=1, max_size=3).map(tuple),
)
_types = st.recursive(
    st.one_of(_scalars, _named),
    lambda inner: st.builds(
        FieldType, st.sampled_from(["arr", "map"]), st.booleans(), st.just(()), inner
    ),
    max_leaves=4,
)


@given(_types)
def test_a_field_type_reads_back_from_its_notation(kind: FieldType) -> None:
    assert parse_field_type(str(kind)) == kind


def test_the_notation_refuses_what_it_does_not_define() -> None:
    for text in ("string", "ref(customer", "foo(a)", "arr<int"):
        with pytest.raises(ValueError, match="not a field type"):
            parse_field_type(text)


@pytest.mark.parametrize(
    ("name", "doc", "expected"),
    [
        (
            "created",
            "Time at which the object was created. Measured in seconds since the Unix epoch.",
            True,
        ),
        ("redeem_by", "Date after which the coupon can no longer be redeemed.", True),
        (
            "due_by",
            "Date by which evidence must be submitted in order to successfully challenge dispute.",
            True,
        ),
        (
            "transitioned_at",
            "Unix timestamp in seconds of when the subscription status transitioned to `paused`.",
            True,
        ),
        ("start_date", "", True),
        (
            "last_seen_at",
            "The last time this reader reported to Stripe backend. Timestamp is measured in "
            "milliseconds since the Unix epoch.",
            False,
        ),
        ("day", "The day of birth, between 1 and 31.", False),
        ("day_of_month", "The day of the month of the billing_cycle_anchor.", False),
        (
            "timezone_offset",
            "The time difference between UTC time and the local time of the cardholder's "
            "browser, in minutes.",
            False,
        ),
        ("amount", "Amount intended to be collected by this PaymentIntent.", False),
    ],
)
def test_timestamps_are_told_from_other_integers_by_docstring_and_name(
    name: str, doc: str, expected: bool
) -> None:
    assert is_timestamp(name, doc) is expected


def _write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


def test_the_reader_takes_fields_references_endpoints_and_prefixes_from_a_release(
    tmp_path: Path,
) -> None:
    """A release in miniature, shaped as stripe-python's generated code is."""
    _write(
        tmp_path,
        "stripe/_api_version.py",
        'class _ApiVersion:\n    CURRENT = "2031-01-01.zinnia"\n',
    )
    _write(
        tmp_path,
        "stripe/_customer.py",
        """
        class Customer(StripeObject):
            OBJECT_NAME: ClassVar[Literal["customer"]] = "customer"
            id: str
        """,
    )
    _write(
        tmp_path,
        "stripe/_voucher.py",
        '''
        from typing_extensions import TYPE_CHECKING
        if TYPE_CHECKING:
            from stripe._customer import Customer

        class Voucher(StripeObject):
            OBJECT_NAME: ClassVar[Literal["voucher"]] = "voucher"

            class Window(StripeObject):
                opens: int
                """
                The moment the window opens.
                """
                length: int
                """
                Number of seconds it stays open.
                """

            created: int
            """
            Time at which the object was created. Measured in seconds since the Unix epoch.
            """
            customer: Optional[ExpandableField["Customer"]]
            status: Union[Literal["open", "spent"], str]
            windows: List[Window]
            metadata: Dict[str, str]
        ''',
    )
    _write(
        tmp_path,
        "stripe/_voucher_service.py",
        """
        class VoucherService(StripeService):
            class RetrieveParams(TypedDict):
                expand: NotRequired[List[str]]
                window: NotRequired["VoucherService.RetrieveParamsWindow"]

            class RetrieveParamsWindow(TypedDict):
                opens: NotRequired[int]

            def retrieve(
                self, voucher: str, params: "VoucherService.RetrieveParams" = {}
            ) -> "Voucher":
                return self._request(
                    "get", "/v1/vouchers/{voucher}".format(voucher=voucher), params=params
                )
        """,
    )
    # The service imports the resource it returns, as the SDK's services do.
    service = tmp_path / "stripe/_voucher_service.py"
    service.write_text("from stripe._voucher import Voucher\n" + service.read_text())
    _write(
        tmp_path,
        "tests/test_generated_examples.py",
        'http_client_mock.assert_requested("get", path="/v1/vouchers/vch_xxxxxxxxxxxxx")\n',
    )

    data = read_sdk(tmp_path)

    assert data["api_version"] == "2031-01-01.zinnia"
    voucher = data["types"]["voucher"]
    assert voucher["id_prefix"] == "vch"
    assert voucher["fields"] == {
        "created": "time",
        "customer": "ref(customer)?",
        "metadata": "map<str>",
        "status": "enum(open|spent)",
        "windows": "arr<obj(voucher#Window)>",
    }
    assert data["types"]["voucher#Window"]["fields"] == {"length": "int", "opens": "time"}
    assert data["endpoints"]["GET /v1/vouchers/{}"] == {
        "returns": "voucher",
        "params": {"expand": {}, "window": {"opens": {}}},
    }


def test_each_answer_is_described_by_the_catalogue_of_its_major_version() -> None:
    assert shipped_versions()[0] == "2024-09-30.acacia"
    newest = shipped_versions()[-1]
    endive = catalogue_for("2026-10-28.endive")  # a monthly release after the major
    assert endive is not None and endive.api_version == "2026-09-30.endive"
    assert catalogue_for(newest) is catalogue(newest)
    assert catalogue_for("2020-08-27") is None  # before the catalogue's first version
    assert catalogue_for("2024-06-20.acacia") is None  # dated before its major's release
    assert catalogue_for(None) is None
    assert resolve_version("2025-04-30.basil") == "2025-03-31.basil"
    with pytest.raises(InputError, match="no catalogue covers this API version"):
        resolve_version("2031-03-31.zinnia")
    assert changelog_url("2025-03-31.basil") == "https://docs.stripe.com/changelog/basil"


def test_the_shipped_catalogues_know_the_documented_changes_of_basil() -> None:
    acacia, basil = catalogue("2024-09-30.acacia"), catalogue("2025-03-31.basil")
    for field in ("subscription", "charge", "payment_intent", "paid"):
        assert acacia.field("invoice", (field,)) is not None
        assert basil.field("invoice", (field,)) is None
    moved = basil.field("invoice", ("parent", "subscription_details", "subscription"))
    assert moved is not None and moved.kind == "ref"
    assert acacia.field("subscription", ("current_period_end",)) == FieldType("time")
    assert basil.field("subscription_item", ("current_period_end",)) == FieldType("time")
    assert "GET /v1/invoices/upcoming" in acacia.endpoints
    assert "GET /v1/invoices/upcoming" not in basil.endpoints
    assert acacia.object_type("payment_intent").id_prefix == "pi"  # type: ignore[union-attr]


@pytest.mark.registry
def test_a_fresh_build_from_pypi_matches_the_shipped_file() -> None:
    """The shipped data is what the builder makes of Stripe's release, byte for byte."""
    registry_allowed()
    version = "2025-03-31.basil"
    fresh = build_version(version, RELEASES[version])
    shipped_path = DATA / f"{version}{SUFFIX}"
    shipped = json.loads(gzip.decompress(shipped_path.read_bytes()))
    differing = sorted(
        name
        for name in fresh["types"].keys() | shipped["types"].keys()
        if fresh["types"].get(name) != shipped["types"].get(name)
    )
    assert differing == [], f"object types that differ from a fresh build: {differing[:10]}"
    assert fresh == shipped
    assert encode(fresh) == shipped_path.read_bytes()
