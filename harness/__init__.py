"""stripe-shadow: record Stripe traffic, replay it against other setups, compare, report."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stripe-shadow")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
