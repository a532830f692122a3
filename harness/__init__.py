"""stripe-shadow: record Stripe traffic, replay it against other setups, compare, report."""

# The one place the version is written: pyproject.toml reads it from here (setuptools'
# `attr:`), so no command pays for importlib.metadata to learn it.
__version__ = "0.1.0"

__all__ = ["__version__"]
