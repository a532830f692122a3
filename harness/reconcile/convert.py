"""The value conversions a mapping names: each turns what the customer's system holds
into what Stripe says for the same field, so the two compare with `==`.

Each conversion is a small function `(value, options) -> value` registered by name in
CONVERSIONS (a mapping's `convert:`). It raises ConversionProblem when a value cannot
convert (text in an amount column): the reconciliation stops there with the table, row
and column, since every later row would fail the same way.

To add one:

    @CONVERSIONS.add("percent")
    def percent(value: Any, options: ConversionOptions) -> Any:
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from harness.registry import Registry


class ConversionProblem(ValueError):
    """A value that the named conversion cannot turn into Stripe's form."""


@dataclass(frozen=True, slots=True)
class ConversionOptions:
    """What a field's mapping says beside `convert:`."""

    # Minor units per major unit, as a power of ten: 2 for USD cents, 0 for JPY.
    exponent: int = 2
    # The zone of a datetime that carries none (a naive TIMESTAMP column).
    timezone: str = "UTC"
    # The source's own words → Stripe's (`ACTIVE` → `active`), applied after conversion.
    values: Mapping[str, Any] = field(default_factory=dict)


Conversion = Callable[[Any, ConversionOptions], Any]
CONVERSIONS: Registry[Conversion] = Registry("conversion", "stripe_shadow.reconcile_conversions")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ConversionProblem(f"{value!r} is not an amount")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ConversionProblem(f"{value!r} is not a decimal amount") from None


@CONVERSIONS.add("decimal_to_minor")
def decimal_to_minor(value: Any, options: ConversionOptions) -> Any:
    """A decimal amount in major units (19.99) → Stripe's integer minor units (1999). An
    amount with more digits than the currency has (19.999) keeps its fraction, so it
    shows as differing rather than being rounded into agreement."""
    minor = _decimal(value).scaleb(options.exponent)
    if not minor.is_finite():
        raise ConversionProblem(f"{value!r} is not a finite amount")
    return int(minor) if minor == minor.to_integral_value() else minor


@CONVERSIONS.add("integer")
def integer(value: Any, options: ConversionOptions) -> Any:
    """An integer held as text or a whole decimal (`"1999"`, `1999.0`) → 1999."""
    number = _decimal(value)
    if number != number.to_integral_value():
        raise ConversionProblem(f"{value!r} is not a whole number")
    return int(number)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConversionProblem(
            f"timezone {name!r} is not a zone name (UTC, Europe/Paris)"
        ) from None


@CONVERSIONS.add("timestamp")
def timestamp(value: Any, options: ConversionOptions) -> Any:
    """A datetime (with a zone, or naive in `timezone`), a date, an ISO 8601 text or epoch
    seconds → Stripe's Unix seconds."""
    if isinstance(value, bool):
        raise ConversionProblem(f"{value!r} is not a time")
    if isinstance(value, int | float | Decimal):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ConversionProblem(f"{value!r} is not an ISO 8601 time") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ConversionProblem(f"{value!r} is not a time")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_zone(options.timezone))
    return int(value.astimezone(UTC).timestamp())


@CONVERSIONS.add("lowercase")
def lowercase(value: Any, options: ConversionOptions) -> Any:
    """Text in Stripe's case for codes: currencies (`USD` → `usd`), countries' lower forms."""
    if not isinstance(value, str):
        raise ConversionProblem(f"{value!r} is not text")
    return value.strip().lower()


_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


@CONVERSIONS.add("boolean")
def boolean(value: Any, options: ConversionOptions) -> Any:
    """1/0, true/false, yes/no, Y/N (any case) → true or false."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConversionProblem(f"{value!r} is not a yes or no")


@CONVERSIONS.add("text")
def text(value: Any, options: ConversionOptions) -> Any:
    """The value as text (a numeric id column that Stripe holds as a string)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_stripe_holds(value: Any, stripe_value: Any) -> Any:
    """With no `convert:`, a source value in the type of Stripe's where that loses
    nothing: CSV holds only text, SQLite may hold `1999` as text or as 1999.0."""
    if value is None or stripe_value is None or type(value) is type(stripe_value):
        return value
    if isinstance(stripe_value, bool):
        try:
            return boolean(value, ConversionOptions())
        except ConversionProblem:
            return value
    if isinstance(stripe_value, int):
        try:
            return integer(value, ConversionOptions())
        except ConversionProblem:
            return value
    if isinstance(stripe_value, str) and isinstance(value, int | float | Decimal):
        return text(value, ConversionOptions())
    return value


def convert(value: Any, name: str | None, options: ConversionOptions, stripe_value: Any) -> Any:
    """One source value as Stripe would hold it: the named conversion (none: the type of
    Stripe's value), then the vocabulary. A missing value (NULL, empty CSV cell) stays
    None."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    converted = (
        CONVERSIONS[name](value, options)
        if name is not None
        else as_stripe_holds(value, stripe_value)
    )
    if options.values:
        key = str(converted) if not isinstance(converted, str) else converted
        if key in options.values:
            return options.values[key]
    return converted
