"""The built-in Stripe profile: which response fields are masked, which are timestamps,
which parts of an error are compared and which headers are compared at all.

The profile is data; normalize.py applies it. A scenario adds to it (`compare.mask`,
`compare.headers`) but never needs to repeat it. Which fields are timestamps and
references, and which id prefixes exist, comes first from the catalogue of the API
version each answer was made under (harness.stripe.catalogue); the names below decide
only for the fields a catalogue does not know: localstripe's extras, fields of versions
no catalogue covers.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.registry import Registry
from harness.stripe import TIMESTAMP_FIELDS, VOLATILE_FIELDS
from harness.stripe.catalogue import Catalogue, catalogue_for

# Replaced by MASK in both trees before comparing. Beyond harness.stripe's list: Stripe's
# hosted pages and dashboard links embed per-account tokens, and `last_response` /
# `request_log_url` are per-request.
MASKED_FIELDS = VOLATILE_FIELDS | frozenset(
    {
        "hosted_voucher_url",
        "return_url_redirect",
        "request_log_url",
        "doc_url",
        "ephemeral_key_secret",
        "secret",
        "last_response",
    }
)

# Masked only inside objects of one type: a balance transaction's fee and net depend on
# the account's pricing, so they change when the same charge runs on another account.
MASKED_BY_OBJECT: dict[str, frozenset[str]] = {
    "balance_transaction": frozenset({"fee", "net", "fee_details"}),
    "charge": frozenset({"application_fee_amount"}),
}

# Unix timestamps beyond harness.stripe's list; any numeric field ending in
# TIMESTAMP_SUFFIX is one too (`paid_at`, `finalized_at`, `voided_at`, …).
EXTRA_TIMESTAMP_FIELDS = frozenset(
    {"current_period_start", "current_period_end", "trial_end", "cancel_at", "pending_since"}
)

TIMESTAMP_SUFFIX = "_at"

# Stripe's error object: the message text changes between releases, so an error is
# compared on its status and these fields only.
ERROR_FIELDS = ("type", "code", "decline_code", "param")

# Response headers compared by default; every other header is volatile or transport.
DEFAULT_HEADERS = ("content-type",)

MASK = "<masked>"

# Stripe's emulator stripe-mock answers fixtures: every timestamp 1234567890 and every
# Request-Id req_123. Normalising turns such a value into FIXED_BY_EMULATOR, and compare
# counts a difference against it as noise: the emulator says nothing about that field.
EMULATOR_FIXED_TIMES = frozenset({1234567890})
EMULATOR_FIXED_HEADERS = frozenset({("request-id", "req_123")})
FIXED_BY_EMULATOR = "<fixed by stripe-mock>"
EMULATOR_NOISE = "stripe-mock answers a fixed value here (created: 1234567890, Request-Id: req_123)"

# Values below this are durations or counts that happen to sit in a timestamp-named
# field (`start` of a usage record period can be 0), not times.
EARLIEST_TIMESTAMP = 100_000_000  # 1973-03-03


@dataclass(frozen=True, slots=True)
class Contribution:
    """What a profile contributor adds for the answers of one API version: values an
    emulator answers with whatever was asked (times, headers), and the catalogue that
    describes the version's objects (harness.stripe.catalogue)."""

    fixed_times: frozenset[int] = frozenset()
    fixed_headers: frozenset[tuple[str, str]] = frozenset()
    catalogue: Catalogue | None = None


# A named function that adds to the profile, given the API version an answer was made
# under (None when none is known). Registered here by name; another package adds one in
# the `stripe_shadow.profile_contributors` entry point group.
Contributor = Callable[[str | None], Contribution]
PROFILE_CONTRIBUTORS: Registry[Contributor] = Registry(
    "profile contributor", "stripe_shadow.profile_contributors"
)


@PROFILE_CONTRIBUTORS.add("stripe-mock")
def stripe_mock_fixtures(version: str | None) -> Contribution:
    """stripe-mock answers fixtures: the same time and Request-Id on every answer."""
    del version  # whatever the version asked for
    return Contribution(EMULATOR_FIXED_TIMES, EMULATOR_FIXED_HEADERS)


@PROFILE_CONTRIBUTORS.add("catalogue")
def version_catalogue(version: str | None) -> Contribution:
    """The catalogue of the answer's API version: its timestamps, references and id
    prefixes decide for the fields it knows."""
    return Contribution(catalogue=catalogue_for(version))


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: for_version caches
class Profile:
    """What normalisation masks and treats as time: the Stripe defaults, a scenario's
    additions, and what the contributors add for one API version (`for_version`)."""

    masked: frozenset[str] = MASKED_FIELDS
    masked_by_object: dict[str, frozenset[str]] = field(
        default_factory=lambda: dict(MASKED_BY_OBJECT)
    )
    timestamps: frozenset[str] = TIMESTAMP_FIELDS | EXTRA_TIMESTAMP_FIELDS
    # The scenario's own `compare.timestamps`: times wherever they are, catalogue or not.
    declared_timestamps: frozenset[str] = frozenset()
    headers: tuple[str, ...] = DEFAULT_HEADERS
    timestamp_tolerance: float = 5.0
    fixed_times: frozenset[int] = frozenset()
    fixed_headers: frozenset[tuple[str, str]] = frozenset()
    catalogue: Catalogue | None = None

    def for_version(self, version: str | None) -> Profile:
        """This profile with every contributor's part for answers of `version` (the
        same object for the same version: answers are compared by the thousand)."""
        return _for_version(self, version)


@functools.lru_cache(maxsize=64)
def _for_version(profile: Profile, version: str | None) -> Profile:
    times: set[int] = set()
    headers: set[tuple[str, str]] = set()
    catalogue: Catalogue | None = None
    for name in PROFILE_CONTRIBUTORS:
        part = PROFILE_CONTRIBUTORS[name](version)
        times |= part.fixed_times
        headers |= part.fixed_headers
        catalogue = part.catalogue or catalogue
    return dataclasses.replace(
        profile, fixed_times=frozenset(times), fixed_headers=frozenset(headers), catalogue=catalogue
    )


STRIPE_PROFILE = Profile()


def stripe_profile(
    *,
    mask: tuple[str, ...] | list[str] = (),
    timestamps: tuple[str, ...] | list[str] = (),
    headers: tuple[str, ...] | list[str] | None = None,
    timestamp_tolerance: float = 5.0,
) -> Profile:
    """The built-in profile extended by a scenario's extra masked and timestamp fields."""
    return Profile(
        masked=MASKED_FIELDS | frozenset(mask),
        timestamps=TIMESTAMP_FIELDS | EXTRA_TIMESTAMP_FIELDS | frozenset(timestamps),
        declared_timestamps=frozenset(timestamps),
        headers=tuple(h.lower() for h in headers) if headers is not None else DEFAULT_HEADERS,
        timestamp_tolerance=timestamp_tolerance,
    )
